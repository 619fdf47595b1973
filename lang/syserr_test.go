package lang

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestSystemErrorPortuguese(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "absent")
	_, missing := os.Stat(absent)
	connRefused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5559}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"missing file", missing, absent + ": arquivo ou diretório inexistente"},
		{"denied path", &fs.PathError{Op: "open", Path: "/data/x", Err: syscall.EACCES}, "/data/x: permissão negada"},
		{"refused dial", connRefused, "127.0.0.1:5559: conexão recusada"},
		{"wrapped errno", fmt.Errorf("store: %w", syscall.ENOSPC), "não há espaço livre no dispositivo"},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "servidor-9", IsNotFound: true}, "nome de máquina desconhecido: servidor-9"},
		{"errno not listed", syscall.ENOTSOCK, syscall.ENOTSOCK.Error()},
		{"not a system error", errors.New("store: corrupt page"), "store: corrupt page"},
	}
	for _, c := range cases {
		if got := SystemError(c.err, PT); got != c.want {
			t.Errorf("%s: SystemError(%v, pt) = %q, want %q", c.name, c.err, got, c.want)
		}
	}
}

func TestSystemErrorEnglishKeepsText(t *testing.T) {
	err := &fs.PathError{Op: "open", Path: "/data/x", Err: syscall.EACCES}
	if got := SystemError(err, EN); got != err.Error() {
		t.Errorf("SystemError(%v, en) = %q, want the error's own text", err, got)
	}
}

func TestDescribeKeepsContext(t *testing.T) {
	bind := &net.OpError{Op: "listen", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	denied := &fs.PathError{Op: "mkdir", Path: "/data/x", Err: syscall.EACCES}
	cases := []struct {
		name string
		err  error
		l    string
		want string
	}{
		{"port in use", fmt.Errorf("broker: frontend: %w", bind), PT, "broker: frontend: 127.0.0.1:5555: endereço já em uso"},
		{"data directory", fmt.Errorf("server: data directory: %w", denied), PT, "server: data directory: /data/x: permissão negada"},
		{"english", fmt.Errorf("server: data directory: %w", denied), EN, "server: data directory: mkdir /data/x: permission denied"},
		{"no system error", errors.New("broker: bad endpoint"), PT, "broker: bad endpoint"},
	}
	for _, c := range cases {
		if got := Describe(c.err, c.l); got != c.want {
			t.Errorf("%s: Describe = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSystemReasonWithoutAddress(t *testing.T) {
	bind := &net.OpError{Op: "listen", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	cases := []struct {
		name   string
		err    error
		l      string
		want   string
		wantOK bool
	}{
		{"port in use", bind, PT, "endereço já em uso", true},
		{"port in use in english", bind, EN, "address already in use", true},
		{"denied path", &fs.PathError{Op: "open", Path: "/data/x", Err: syscall.EACCES}, PT, "permissão negada", true},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "servidor-9", IsNotFound: true}, PT, "nome de máquina desconhecido: servidor-9", true},
		{"errno not listed", syscall.ENOTSOCK, PT, "", false},
		{"not a system error", errors.New("store: corrupt page"), PT, "", false},
	}
	for _, c := range cases {
		got, ok := SystemReason(c.err, c.l)
		if got != c.want || ok != c.wantOK {
			t.Errorf("%s: SystemReason = %q, %v, want %q, %v", c.name, got, ok, c.want, c.wantOK)
		}
	}
}

// wordedError is a Describer with a fixed text in each language.
type wordedError struct{ pt string }

func (e wordedError) Error() string { return "english text" }

func (e wordedError) Describe(l string) string {
	if l == EN {
		return "worded english text"
	}
	return e.pt
}

func TestDescribeUsesDescriber(t *testing.T) {
	err := fmt.Errorf("outer: %w", wordedError{pt: "texto em português"})
	if got, want := Describe(err, PT), "outer: texto em português"; got != want {
		t.Errorf("Describe(pt) = %q, want %q", got, want)
	}
	if got, want := Describe(err, EN), "outer: worded english text"; got != want {
		t.Errorf("Describe(en) = %q, want %q", got, want)
	}

	inside := fmt.Errorf("outer (%w) after", wordedError{pt: "texto em português"})
	if got := Describe(inside, PT); got != inside.Error() {
		t.Errorf("Describe(pt) of a Describer inside the text = %q, want the text unchanged", got)
	}
}
