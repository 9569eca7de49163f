package bot

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// A Slack response_url or DingTalk sessionWebhook is a posting credential:
// whoever holds one can post into the conversation as the bot until it
// expires. It is used once and never logged; but net/http's errors name the
// URL they failed on (url.Error: `Post "https://…?session=…": …`), and a
// library wrapping one with %w has already printed it into its message.

// Redact returns err with every spelling of the posting address addr in its
// message cut to the address's scheme and host; errors.Is and errors.As still
// see the causes (a url.Error among them has its URL cut too). Redact(nil) is
// nil.
func Redact(err error, addr string) error {
	if err == nil || addr == "" {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = RedactString(ue.URL, addr)
	}
	return redacted{err: err, addr: addr}
}

type redacted struct {
	err  error
	addr string
}

func (r redacted) Error() string { return RedactString(r.err.Error(), r.addr) }
func (r redacted) Unwrap() error { return r.err }

// RedactString cuts addr, and any URL on addr's host (however net/url or a
// library re-spelled it), to scheme://host/[redacted] in s.
func RedactString(s, addr string) string {
	if addr == "" {
		return s
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return strings.ReplaceAll(s, addr, "[redacted]")
	}
	origin := u.Scheme + "://" + u.Host
	s = strings.ReplaceAll(s, addr, origin+"/[redacted]")
	return regexp.MustCompile(`(?i)`+regexp.QuoteMeta(origin)+`[^\s"'<>]*`).ReplaceAllString(s, origin+"/[redacted]")
}
