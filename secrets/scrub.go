package secrets

import (
	"encoding/base64"
	"sort"
	"strings"
)

// Masked replaces a decrypted value in text.
const Masked = "***"

// minScrub is the shortest value scrubbed: replacing every "a" would make a message
// unreadable while hiding nothing (kube's Secret scrubbing draws the same line).
const minScrub = 4

// Scrubber removes decrypted values, raw and base64, from text.
type Scrubber struct{ r *strings.Replacer }

// NewScrubber scrubs values (File.Values of the files a render opened).
func NewScrubber(values []string) *Scrubber {
	var all []string
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= minScrub && !seen[s] {
			seen[s] = true
			all = append(all, s)
		}
	}
	for _, v := range values {
		add(v)
		add(strings.TrimSpace(v))
		add(base64.StdEncoding.EncodeToString([]byte(v)))
	}
	if len(all) == 0 {
		return &Scrubber{}
	}
	// Longest first: a value that contains another goes whole.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	pairs := make([]string, 0, 2*len(all))
	for _, s := range all {
		pairs = append(pairs, s, Masked)
	}
	return &Scrubber{r: strings.NewReplacer(pairs...)}
}

// Scrub returns s without any of the values.
func (s *Scrubber) Scrub(text string) string {
	if s == nil || s.r == nil {
		return text
	}
	return s.r.Replace(text)
}
