package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shifu-factory/shifu"
)

// Window is how far a request's timestamp may be from now: Slack's 5 minutes.
const Window = 5 * time.Minute

// Timestamp reads X-Slack-Request-Timestamp and refuses a request outside the
// window, before any secret is looked up. slack-go's verifier reads the wall
// clock; this takes now so Slack's published example runs as a test.
func Timestamp(h http.Header, now time.Time) (string, error) {
	ts := h.Get("X-Slack-Request-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", shifu.Errorf(shifu.ErrUnauthorized, "missing or malformed X-Slack-Request-Timestamp")
	}
	d := now.Sub(time.Unix(sec, 0))
	if d > Window || d < -Window {
		return "", shifu.Errorf(shifu.ErrUnauthorized, "request timestamp is more than 5 minutes from now")
	}
	return ts, nil
}

// Sign is Slack's v0 signature of body sent at timestamp ts.
func Sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + ts + ":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks X-Slack-Signature over the raw body in constant time.
func Verify(h http.Header, body []byte, secret string, now time.Time) error {
	ts, err := Timestamp(h, now)
	if err != nil {
		return err
	}
	got := h.Get("X-Slack-Signature")
	if !strings.HasPrefix(got, "v0=") {
		return shifu.Errorf(shifu.ErrUnauthorized, "missing or malformed X-Slack-Signature")
	}
	if !hmac.Equal([]byte(got), []byte(Sign(secret, ts, body))) {
		return shifu.Errorf(shifu.ErrUnauthorized, "bad request signature")
	}
	return nil
}
