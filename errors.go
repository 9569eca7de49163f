package shifu

import (
	"errors"
	"fmt"
	"time"
)

// Error kinds. Code anywhere wraps one of these with %w; the edges (web, CLI,
// bots) classify with errors.Is once and decide what the client may see.
var (
	ErrInvalid      = errors.New("invalid input")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrTooLarge     = errors.New("too large")
	ErrUnavailable  = errors.New("unavailable")
	ErrTooMany      = errors.New("too many requests") // a rate limit or budget: wait RetryAfter
)

// Error is an error whose message is safe to show to the person who caused it:
// it names what was wrong and what is accepted, and carries no internal detail.
// Kind is one of the Err* values above.
type Error struct {
	Kind error
	Msg  string
	// Format and Args are what Errorf made Msg from: the edges show it in
	// the reader's language from them (internal/i18n).
	Format string
	Args   []any
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

// Errorf returns an *Error of the given kind with a client-safe message.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Format: format, Args: args}
}

// Message returns the client-safe text of err: the message of the outermost
// *Error in its chain, or a generic text for its kind, or "internal error".
// Internal error text never leaves through here.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	for _, k := range []error{ErrInvalid, ErrNotFound, ErrConflict, ErrUnauthorized, ErrForbidden, ErrTooLarge, ErrUnavailable, ErrTooMany} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return "internal error"
}

// Wait is an ErrTooMany error that says when to come back.
type Wait struct {
	Err   *Error
	After time.Duration
}

func (w *Wait) Error() string { return w.Err.Msg }
func (w *Wait) Unwrap() error { return w.Err }

// TooMany returns an ErrTooMany error asking the caller to wait d.
func TooMany(d time.Duration, format string, args ...any) error {
	return &Wait{Err: &Error{Kind: ErrTooMany, Msg: fmt.Sprintf(format, args...), Format: format, Args: args}, After: d}
}

// RetryAfter is how long err asks the caller to wait, or 0.
func RetryAfter(err error) time.Duration {
	var w *Wait
	if errors.As(err, &w) {
		return w.After
	}
	return 0
}
