package hooks

import "github.com/gitopsd/gitopsd/secrets"

// scrubReport removes the values decrypted from SOPS files from everything the report
// says. kube already masks Secrets' own values in its diffs and API errors; a Helm chart
// may put a decrypted value in any object, and any message may quote it.
func scrubReport(rep *Report, sensitive []string) {
	if len(sensitive) == 0 {
		return
	}
	s := secrets.NewScrubber(sensitive)
	for i := range rep.Problems {
		p := &rep.Problems[i]
		p.Message, p.Hint, p.Object = s.Scrub(p.Message), s.Scrub(p.Hint), s.Scrub(p.Object)
	}
	for i := range rep.Notes {
		rep.Notes[i] = s.Scrub(rep.Notes[i])
	}
	for i := range rep.Preview {
		for j := range rep.Preview[i].Fields {
			rep.Preview[i].Fields[j] = s.Scrub(rep.Preview[i].Fields[j])
		}
	}
}
