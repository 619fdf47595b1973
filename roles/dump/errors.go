package dump

import (
	"fmt"

	"msgsys/lang"
)

// failure is an error of Run or New for people. Error returns its text in
// the dump's language, and errors.Is matches its kind (ErrNoStore,
// ErrServer or nil) and its cause.
type failure struct {
	kind  error
	text  string
	cause error
}

func (f *failure) Error() string { return f.text }

func (f *failure) Unwrap() []error {
	var errs []error
	for _, err := range []error{f.kind, f.cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// fail returns a failure of the given kind and cause whose text is format
// in language l, rendered with args.
func fail(l string, kind, cause error, format lang.Text, args ...any) error {
	return &failure{kind: kind, text: fmt.Sprintf(format.In(l), args...), cause: cause}
}
