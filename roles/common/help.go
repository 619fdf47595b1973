package common

import "msgsys/lang"

// helpLanguage is the language of the help text that the Command functions
// build: command and flag Usage, and command Description.
var helpLanguage = lang.PT

// SetHelpLanguage sets the language of the help text of the commands built
// after it. main calls it once, before it builds the commands.
func SetHelpLanguage(l string) {
	helpLanguage = l
}

// HelpText returns t in the help language.
func HelpText(t lang.Text) string {
	return t.In(helpLanguage)
}
