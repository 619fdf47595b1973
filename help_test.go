package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
)

func TestHelpLanguageChoice(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		env    string // MSGSYS_LANG
		locale string // LANG
		want   string
	}{
		{"locale pt", nil, "", "pt_BR.UTF-8", lang.PT},
		{"locale en", nil, "", "en_US.UTF-8", lang.EN},
		{"no locale", nil, "", "", lang.PT},
		{"environment over locale", nil, "en", "pt_BR.UTF-8", lang.EN},
		{"flag over environment", []string{"server", "--lang", "en"}, "pt", "pt_BR.UTF-8", lang.EN},
		{"flag with equals", []string{"server", "--lang=en"}, "", "pt_BR.UTF-8", lang.EN},
		{"flag with one dash", []string{"server", "-lang", "en"}, "", "pt_BR.UTF-8", lang.EN},
		{"flag before help", []string{"server", "--lang", "en", "--help"}, "", "", lang.EN},
		{"last flag wins", []string{"server", "--lang", "en", "--lang", "pt"}, "", "en_US.UTF-8", lang.PT},
		{"flag without value", []string{"server", "--lang"}, "", "en_US.UTF-8", lang.EN},
		{"empty flag reads locale", []string{"server", "--lang="}, "pt", "en_US.UTF-8", lang.EN},
		{"flag after double dash", []string{"server", "--", "--lang", "en"}, "", "pt_BR.UTF-8", lang.PT},
		{"unsupported flag", []string{"server", "--lang", "fr"}, "", "en_US.UTF-8", lang.PT},
		{"other flags only", []string{"client", "--user", "ana"}, "", "en_US.UTF-8", lang.EN},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("LC_ALL", "")
			t.Setenv("LC_MESSAGES", "")
			t.Setenv("LANG", c.locale)
			t.Setenv("MSGSYS_LANG", c.env)
			if got := helpLanguage(c.args); got != c.want {
				t.Errorf("helpLanguage(%q) with MSGSYS_LANG=%q LANG=%q = %q, want %q", c.args, c.env, c.locale, got, c.want)
			}
		})
	}
}

// TestHelpTextTranslated compares the command trees built in Portuguese
// and in English: every command's usage and description and every flag's
// usage must be set in both languages, and differ between them.
func TestHelpTextTranslated(t *testing.T) {
	t.Cleanup(func() { setHelpLanguage(lang.EN) })
	pt := newApp(lang.PT)
	en := newApp(lang.EN)

	compareTexts(t, "msgsys usage", pt.Usage, en.Usage)
	compareFlags(t, "msgsys", pt.Flags, en.Flags)
	compareCommands(t, "msgsys", pt.Commands, en.Commands)
}

func compareCommands(t *testing.T, parent string, pt, en []*cli.Command) {
	t.Helper()
	if len(pt) != len(en) {
		t.Fatalf("%s: %d commands in pt, %d in en", parent, len(pt), len(en))
	}
	for i := range pt {
		path := parent + " " + en[i].Name
		if pt[i].Name != en[i].Name {
			t.Errorf("%s: command %d is %q in pt", path, i, pt[i].Name)
			continue
		}
		compareTexts(t, path+" usage", pt[i].Usage, en[i].Usage)
		if (pt[i].Description != "" || en[i].Description != "") && pt[i].Description == en[i].Description {
			t.Errorf("%s description is the same in pt and en: %q", path, en[i].Description)
		}
		if (pt[i].Description == "") != (en[i].Description == "") {
			t.Errorf("%s description: pt %q, en %q, want both or neither", path, pt[i].Description, en[i].Description)
		}
		compareFlags(t, path, pt[i].Flags, en[i].Flags)
		compareCommands(t, path, pt[i].Subcommands, en[i].Subcommands)
	}
}

func compareFlags(t *testing.T, command string, pt, en []cli.Flag) {
	t.Helper()
	if len(pt) != len(en) {
		t.Fatalf("%s: %d flags in pt, %d in en", command, len(pt), len(en))
	}
	for i := range pt {
		name := en[i].Names()[0]
		ptFlag, ok := pt[i].(cli.DocGenerationFlag)
		if !ok {
			t.Errorf("%s --%s: %T has no usage", command, name, pt[i])
			continue
		}
		enFlag := en[i].(cli.DocGenerationFlag)
		compareTexts(t, command+" --"+name+" usage", ptFlag.GetUsage(), enFlag.GetUsage())
	}
}

// compareTexts checks that a help text is set in both languages and
// translated.
func compareTexts(t *testing.T, label, pt, en string) {
	t.Helper()
	if pt == "" {
		t.Errorf("%s is empty in pt", label)
	}
	if en == "" {
		t.Errorf("%s is empty in en", label)
	}
	if pt == en {
		t.Errorf("%s is the same in pt and en: %q", label, en)
	}
}

// commandPaths lists the arguments that name each command and subcommand,
// the app itself first.
func commandPaths(parent []string, commands []*cli.Command) [][]string {
	paths := [][]string{parent}
	for _, c := range commands {
		path := append(append([]string{}, parent...), c.Name)
		paths = append(paths, commandPaths(path, c.Subcommands)...)
	}
	return paths
}

// runHelp runs the binary with args and a locale-free environment plus
// env, and returns its output.
func runHelp(t *testing.T, args []string, env ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=", "LC_MESSAGES=", "LANG=", "MSGSYS_LANG=",
		// A binary built with -race otherwise sleeps 1 s before it exits
		// (GORACE atexit_sleep_ms defaults to 1000).
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("msgsys %s with %q failed: %v\n%s", strings.Join(args, " "), env, err, out)
	}
	return string(out)
}

// englishHelpWords are words of urfave/cli's help that the Portuguese help
// translates.
var englishHelpWords = []string{
	"NAME:", "USAGE:", "DESCRIPTION:", "COMMANDS:", "OPTIONS:", "VERSION:",
	"[global options]", "[command options]", "(default:", " value ",
	"show help", "print the version", "Shows a list of commands",
}

func TestHelpOutputPerLanguage(t *testing.T) {
	t.Cleanup(func() { setHelpLanguage(lang.EN) })
	for _, path := range commandPaths(nil, newApp(lang.EN).Commands) {
		args := append(slices.Clone(path), "--help")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			pt := runHelp(t, args, "LANG=pt_BR.UTF-8")
			en := runHelp(t, args, "MSGSYS_LANG=en")
			if pt == en {
				t.Fatalf("help is the same in pt and en:\n%s", en)
			}
			for _, word := range englishHelpWords {
				if strings.Contains(pt, word) {
					t.Errorf("Portuguese help contains %q:\n%s", word, pt)
				}
			}
			if !strings.Contains(pt, "NOME:") {
				t.Errorf("Portuguese help lacks NOME:\n%s", pt)
			}
			if !strings.Contains(en, "NAME:") {
				t.Errorf("English help lacks NAME:\n%s", en)
			}
		})
	}
}

func TestServerHelpLanguage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  []string
		want string
		not  string
	}{
		{"pt locale", []string{"server", "--help"}, []string{"LANG=pt_BR.UTF-8"}, "OPÇÕES:", "OPTIONS:"},
		{"no locale", []string{"server", "--help"}, nil, "OPÇÕES:", "OPTIONS:"},
		{"lang flag", []string{"server", "--help", "--lang", "en"}, []string{"LANG=pt_BR.UTF-8"}, "OPTIONS:", "OPÇÕES"},
		{"lang flag with equals", []string{"server", "--lang=en", "--help"}, []string{"LANG=pt_BR.UTF-8"}, "OPTIONS:", "OPÇÕES"},
		{"environment", []string{"server", "--help"}, []string{"LANG=pt_BR.UTF-8", "MSGSYS_LANG=en"}, "OPTIONS:", "OPÇÕES"},
		{"en locale", []string{"server", "--help"}, []string{"LANG=en_US.UTF-8"}, "OPTIONS:", "OPÇÕES"},
		{"flag over environment", []string{"server", "--help", "--lang", "pt"}, []string{"MSGSYS_LANG=en"}, "OPÇÕES:", "OPTIONS:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := runHelp(t, c.args, c.env...)
			if !strings.Contains(out, c.want) {
				t.Errorf("msgsys %s with %q lacks %q:\n%s", strings.Join(c.args, " "), c.env, c.want, out)
			}
			if strings.Contains(out, c.not) {
				t.Errorf("msgsys %s with %q contains %q:\n%s", strings.Join(c.args, " "), c.env, c.not, out)
			}
		})
	}
}
