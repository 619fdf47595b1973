package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/common"
)

// textIncorrectUsage starts the line that urfave/cli writes above the help
// of a command given a flag it cannot parse.
var textIncorrectUsage = lang.Text{PT: "Uso incorreto:", EN: "Incorrect Usage:"}

// usageTexts are the Portuguese forms of the usage errors of urfave/cli
// v2.27.7 and of Go's flag package, found by the start of their English
// text. Each translate function gets the text after prefix and returns ""
// when that text does not have the form it expects.
var usageTexts = []struct {
	prefix    string
	translate func(rest string) string
}{
	{"flag provided but not defined: ", func(flag string) string {
		return "opção não definida: " + flag
	}},
	{"flag needs an argument: ", func(flag string) string {
		return "a opção " + flag + " precisa de um valor"
	}},
	{"bad flag syntax: ", func(arg string) string {
		return "opção mal escrita: " + arg
	}},
	// invalid value "abc" for flag -history: parse error
	{"invalid value ", func(rest string) string {
		value, flag, reason := splitInvalidValue(rest, " for flag ")
		if flag == "" {
			return ""
		}
		return fmt.Sprintf("valor inválido %s para a opção %s: %s", value, flag, translateParseReason(reason))
	}},
	// invalid boolean value "x" for -skew: parse error
	{"invalid boolean value ", func(rest string) string {
		value, flag, _ := splitInvalidValue(rest, " for ")
		if flag == "" {
			return ""
		}
		return fmt.Sprintf("valor inválido %s para a opção %s: use true ou false", value, flag)
	}},
	// could not parse "abc" as int value from environment variable
	// "MSGSYS_HISTORY" for flag history: strconv.ParseInt: ...
	{"could not parse ", translateEnvironmentValue},
	{textNoHelpTopic, func(rest string) string {
		return unknownCommand(rest, lang.PT)
	}},
}

// textNoHelpTopic starts urfave/cli's error for an unknown command, such
// as "No help topic for 'nosuch'".
const textNoHelpTopic = "No help topic for '"

// textUnknownCommand is the error of an unknown command.
var textUnknownCommand = lang.Text{
	PT: "comando desconhecido: %s. Veja a lista de comandos com msgsys --help",
	EN: "unknown command: %s. See the list of commands with msgsys --help",
}

// unknownCommand returns textUnknownCommand in language l for the rest
// "NAME'" of urfave/cli's text, or "" for a rest of another form.
func unknownCommand(rest, l string) string {
	name, ok := strings.CutSuffix(rest, "'")
	if !ok || strings.Contains(name, "'") {
		return ""
	}
	return fmt.Sprintf(textUnknownCommand.In(l), name)
}

// describeUsageError returns the text of a usage error of urfave/cli or of
// the flag package in language l, and false for any other error. An error
// of an unexpected form keeps its English text.
func describeUsageError(err error, l string) (string, bool) {
	text := err.Error()
	for _, usage := range usageTexts {
		rest, found := strings.CutPrefix(text, usage.prefix)
		if !found {
			continue
		}
		if l == lang.EN {
			return englishUsageError(text), true
		}
		if translated := usage.translate(rest); translated != "" {
			return translated, true
		}
		return text, true
	}
	return "", false
}

// englishUsageError returns text, a usage error in English, except that
// it rewords urfave/cli's "No help topic for 'NAME'", which does not say
// that NAME is no command, as textUnknownCommand.
func englishUsageError(text string) string {
	rest, found := strings.CutPrefix(text, textNoHelpTopic)
	if !found {
		return text
	}
	if reworded := unknownCommand(rest, lang.EN); reworded != "" {
		return reworded
	}
	return text
}

// describeError returns the last line that main prints for err, in
// language l.
func describeError(err error, l string) string {
	if text, ok := describeUsageError(err, l); ok {
		return text
	}
	return lang.Describe(err, l)
}

// exitStatus is the exit status for err: common.ExitStartFailed for a
// usage error, an unknown command included, or a failure to start with the
// command's settings, its own for another cli.ExitCoder, else 1.
func exitStatus(err error) int {
	if _, usage := describeUsageError(err, lang.EN); usage || common.IsStartFailure(err) {
		return common.ExitStartFailed
	}
	var coder cli.ExitCoder
	if errors.As(err, &coder) && coder.ExitCode() != 0 {
		return coder.ExitCode()
	}
	return 1
}

// splitInvalidValue splits the rest of the flag package's "invalid value
// %q<separator>-%s: %v" after its prefix into the quoted value, the flag
// and the reason. flag is "" when rest has another form.
func splitInvalidValue(rest, separator string) (value, flag, reason string) {
	value, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", "", ""
	}
	flagAndReason, ok := strings.CutPrefix(rest[len(value):], separator)
	if !ok {
		return "", "", ""
	}
	flag, reason, ok = strings.Cut(flagAndReason, ": ")
	if !ok {
		return "", "", ""
	}
	return value, flag, reason
}

// translateEnvironmentValue translates the rest of urfave/cli's "could not
// parse %q as %s value from environment variable %q for flag %s: %s" after
// its prefix. A value read from a file keeps its English text.
func translateEnvironmentValue(rest string) string {
	value, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return ""
	}
	_, source, ok := strings.Cut(rest[len(value):], " from environment variable ")
	if !ok {
		return ""
	}
	variable, err := strconv.QuotedPrefix(source)
	if err != nil {
		return ""
	}
	flagAndReason, ok := strings.CutPrefix(source[len(variable):], " for flag ")
	if !ok {
		return ""
	}
	flag, reason, ok := strings.Cut(flagAndReason, ": ")
	if !ok {
		return ""
	}
	name, err := strconv.Unquote(variable)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("valor inválido %s na variável de ambiente %s, para a opção --%s: %s", value, name, flag, translateParseReason(reason))
}

// translateParseReason translates the end of a parse error of the flag
// package or of strconv and time.ParseDuration: "parse error", "...
// invalid syntax", "value out of range", "time: unknown unit ...". Other
// reasons keep their text.
func translateParseReason(reason string) string {
	switch {
	case reason == "parse error", strings.HasSuffix(reason, "invalid syntax"), strings.HasPrefix(reason, "time: "):
		return "formato inválido"
	case strings.HasSuffix(reason, "value out of range"):
		return "fora do intervalo"
	}
	return reason
}

// usageErrorHandler does in language l what urfave/cli does by default
// for a flag that it cannot parse: it writes a line with the error, then
// the command's help. It returns err, which main prints as the last line.
func usageErrorHandler(l string) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, isSubcommand bool) error {
		fmt.Fprintf(c.App.Writer, "%s %s\n\n", textIncorrectUsage.In(l), describeError(err, l))
		if c.Command.HideHelp {
			return err
		}
		lineage := c.Lineage()
		if isSubcommand && len(lineage) > 1 {
			_ = cli.ShowCommandHelp(lineage[1], c.Command.Name)
		} else {
			_ = cli.ShowAppHelp(c)
		}
		return err
	}
}

// handleUsageErrors sets usageErrorHandler on app and on every command.
// urfave/cli copies App.OnUsageError only to the top level.
func handleUsageErrors(app *cli.App, l string) {
	handler := usageErrorHandler(l)
	app.OnUsageError = handler
	var walk func(commands []*cli.Command)
	walk = func(commands []*cli.Command) {
		for _, cmd := range commands {
			cmd.OnUsageError = handler
			walk(cmd.Subcommands)
		}
	}
	walk(app.Commands)
	walk([]*cli.Command{builtinHelpCommand()})
}
