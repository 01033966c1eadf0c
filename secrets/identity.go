package secrets

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"filippo.io/age"
)

// Identities are parsed age identities. Formatting them prints how many there are, never
// the keys.
type Identities struct {
	ids        []age.Identity
	recipients []string
}

// ParseIdentities reads age identity files' text (age-keygen's output: one
// AGE-SECRET-KEY-1... per line, # comments). Its errors name the line, never its text.
func ParseIdentities(text ...[]byte) (*Identities, error) {
	out := &Identities{}
	for _, t := range text {
		sc := bufio.NewScanner(bytes.NewReader(t))
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			id, err := age.ParseX25519Identity(line)
			if err != nil {
				return nil, fmt.Errorf("line %d is not an age identity (AGE-SECRET-KEY-1...)", n)
			}
			out.ids = append(out.ids, id)
			out.recipients = append(out.recipients, id.Recipient().String())
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading identities: %w", err)
		}
	}
	return out, nil
}

// Len is the number of identities.
func (i *Identities) Len() int {
	if i == nil {
		return 0
	}
	return len(i.ids)
}

// Recipients are the public keys (age1...) of the identities, in order.
func (i *Identities) Recipients() []string {
	if i == nil {
		return nil
	}
	return append([]string(nil), i.recipients...)
}

// String says how many identities there are (a value receiver: Identities printed as a
// value, not through a pointer, print no key either).
func (i Identities) String() string { return fmt.Sprintf("[%d age identities]", len(i.ids)) }

// GoString is String, so that %#v prints no key either.
func (i Identities) GoString() string { return i.String() }

// ValidRecipient reports whether s is an age recipient (age1...).
func ValidRecipient(s string) bool {
	_, err := age.ParseX25519Recipient(s)
	return err == nil
}
