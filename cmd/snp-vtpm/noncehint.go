package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// nonceReading is another reading of the nonce flags' value: the flag
// under which value gives nonce.
type nonceReading struct {
	flag, value string
	nonce       []byte
	// why says what the user's reading got wrong.
	why string
}

// textOrHex are the notes of the text and hex readings.
const textOrHex = "--nonce takes the nonce as text, --nonce-hex as hex digits"

// otherReadings are the readings of the nonce flags' value that the user
// may have meant: hex digits given to --nonce (text) read as hex, and
// --nonce-hex's digits read as text.
func (n *nonceFlags) otherReadings() []nonceReading {
	switch {
	case n.text != "":
		if b, err := hex.DecodeString(n.text); err == nil && len(b) > 0 {
			return []nonceReading{{"--nonce-hex", n.text, b, textOrHex}}
		}
	case n.hex != "":
		return []nonceReading{{"--nonce", n.hex, []byte(n.hex), textOrHex}}
	}
	return nil
}

// mixupHint returns, when one of readings gives the nonce that proof
// (what carries it, e.g. "the quote") is over, a warning saying which flag
// gives it; "" otherwise. It is a hint after a rejection, never a verdict.
func (n *nonceFlags) mixupHint(proof string, readings []nonceReading, matches func([]byte) bool) string {
	given := "--nonce"
	if n.hex != "" {
		given = "--nonce-hex"
	}
	for _, r := range readings {
		if matches(r.nonce) {
			return fmt.Sprintf("%s is over the nonce that %s %s gives, not the one %s gave (%s)", proof, r.flag, r.value, given, r.why)
		}
	}
	return ""
}

// quoteNonceHint is mixupHint for evidence whose quote is over another
// nonce than the flags give (check quote-nonce or user-data).
func (n *nonceFlags) quoteNonceHint(data []byte) string {
	ev, err := evidence.Decode(data)
	if err != nil {
		return ""
	}
	a, err := quote.Parse(ev.Quote.Message)
	if err != nil {
		return ""
	}
	return n.mixupHint("the quote", n.otherReadings(), func(b []byte) bool {
		return bytes.Equal(a.ExtraData, quote.ExpectedExtraData(b))
	})
}

// maaNonceHint is mixupHint for an MAA token whose client payload nonce
// is not base64 of the flags' nonce; it also names the mistake of giving
// that base64 itself to --nonce.
func (n *nonceFlags) maaNonceHint(token []byte) string {
	t, err := maa.Parse(token)
	if err != nil {
		return ""
	}
	c, err := maa.ParseClaims(t.Payload)
	if err != nil {
		return ""
	}
	got, ok := c.Nonce()
	if !ok {
		return ""
	}
	readings := n.otherReadings()
	if b, err := base64.StdEncoding.DecodeString(n.text); n.text != "" && err == nil && len(b) > 0 {
		r := nonceReading{"--nonce-hex", hex.EncodeToString(b), b, "--nonce takes the nonce itself; the token carries its base64"}
		if isPlainWord(b) {
			r.flag, r.value = "--nonce", string(b)
		}
		readings = append(readings, r)
	}
	return n.mixupHint("the token's client payload", readings, func(b []byte) bool { return maa.NonceClaim(b) == got })
}

// isPlainWord reports whether b is printable ASCII without spaces or
// quotes, shown as it is in a command line.
func isPlainWord(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}
