package render

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"unicode/utf8"
)

// budget counts the bytes read from the input so their sum stays under max.
type budget struct {
	max  int64
	used int64
}

// readFile reads one input file under the budget, a SOPS file decrypted (see open). It
// returns nil after reporting a problem.
func (r *renderer) readFile(name string) []byte {
	data := r.readRaw(name)
	if data == nil {
		return nil
	}
	return r.open(name, data, &r.ps)
}

// readRaw reads one input file under the budget, as it is in the tree. The size is checked
// with Stat first, so an oversized file is refused without being read. It returns nil
// after reporting a problem.
func (r *renderer) readRaw(name string) []byte {
	fi, err := fs.Stat(r.fsys, name)
	if err != nil {
		r.ps.add(Problem{File: name, Rule: RuleRead, Message: "cannot read: " + describe(err),
			Hint: "symlinks must stay inside the repository; submodules are not supported"})
		return nil
	}
	if fi.IsDir() {
		r.ps.add(Problem{File: name, Rule: RuleRead, Message: "is a directory, not a file"})
		return nil
	}
	if !r.charge(name, fi.Size()) {
		return nil
	}
	f, err := r.fsys.Open(name)
	if err != nil {
		r.ps.add(Problem{File: name, Rule: RuleRead, Message: "cannot read: " + describe(err)})
		return nil
	}
	defer f.Close()
	// Read at most one byte past what Stat promised, in case the file grew.
	data, err := io.ReadAll(io.LimitReader(f, fi.Size()+1))
	if err == nil && int64(len(data)) > fi.Size() {
		err = fmt.Errorf("file changed while being read")
	}
	if err != nil {
		r.ps.add(Problem{File: name, Rule: RuleRead, Message: "cannot read: " + describe(err)})
		return nil
	}
	return data
}

// charge adds n bytes to the input budget, reporting a problem when a bound is crossed.
func (r *renderer) charge(name string, n int64) bool {
	if n > r.in.max {
		r.ps.add(Problem{File: name, Rule: RuleTooLarge,
			Message: fmt.Sprintf("file is %s, more than the limit of %s", size(n), size(r.in.max)),
			Hint:    "split it, or raise render.max_bytes for this environment"})
		return false
	}
	if r.in.used+n > r.in.max {
		r.ps.add(Problem{File: name, Rule: RuleTooLarge,
			Message: fmt.Sprintf("manifests add up to more than the limit of %s", size(r.in.max)),
			Hint:    "raise render.max_bytes for this environment, or render less"})
		return false
	}
	r.in.used += n
	return true
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// sniffLen is how much of a file is looked at to tell text from binary, as git does.
const sniffLen = 8000

// textProblem reports a file that is binary or not UTF-8; YAML requires UTF-8 text.
func textProblem(name string, data []byte) *Problem {
	head := data[:min(len(data), sniffLen)]
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return &Problem{File: name, Line: lineAt(data, i), Rule: RuleBinary,
			Message: "binary file in the manifest path",
			Hint:    "move it out of the manifest path; only YAML and JSON manifests belong there"}
	}
	if !utf8.Valid(data) {
		i := firstInvalid(data)
		return &Problem{File: name, Line: lineAt(data, i), Rule: RuleUTF8,
			Message: fmt.Sprintf("invalid UTF-8 at byte %d", i),
			Hint:    "save the file as UTF-8"}
	}
	return nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func lineAt(b []byte, off int) int { return bytes.Count(b[:off], []byte{'\n'}) + 1 }
