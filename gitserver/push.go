package gitserver

import (
	"context"
	"io"
	"strings"
)

// ZeroID is the object id git uses for "no object": the old value of a created ref, the new
// value of a deleted one.
const ZeroID = "0000000000000000000000000000000000000000"

// RefUpdate is one line of a hook's stdin: a full ref name and its old and new object ids.
type RefUpdate struct{ Name, Old, New string }

// IsCreate reports whether the update creates the ref.
func (u RefUpdate) IsCreate() bool { return u.Old == ZeroID }

// IsDelete reports whether the update deletes the ref.
func (u RefUpdate) IsDelete() bool { return u.New == ZeroID }

// Branch returns the branch name of a refs/heads/ ref.
func (u RefUpdate) Branch() (string, bool) { return strings.CutPrefix(u.Name, "refs/heads/") }

// Tag returns the tag name of a refs/tags/ ref.
func (u RefUpdate) Tag() (string, bool) { return strings.CutPrefix(u.Name, "refs/tags/") }

// Push is what a hook knows about the push it runs in.
type Push struct {
	// Repo is the repo's name in repos.yaml; RepoDir the bare repository on disk.
	Repo, RepoDir string
	// User is the repos.yaml user whose key was proved; KeyFingerprint that key's SHA256
	// fingerprint.
	User, KeyFingerprint string
	Updates              []RefUpdate
	// Options are the push options (git push -o), in order.
	Options []string

	// The quarantine environment as git gave it to the hook: objects of a push that is not
	// accepted yet live in ObjectDir (inside QuarantineDir), with the repo's own objects as
	// alternates. Empty at post-receive, when the objects have been migrated.
	QuarantineDir, ObjectDir string
	AlternateObjectDirs      []string

	// SessionID names the SSH session in logs; RemoteAddr is the client's address.
	SessionID, RemoteAddr string
}

// Hooks decide and act on pushes. gitserver calls PreReceive after its own ref rules passed;
// a non-nil error refuses the whole push (its message is shown to the pusher). PostReceive
// runs after the refs were updated; what it writes reaches the pusher too.
// Output written to out is relayed line by line as `remote:` lines.
type Hooks interface {
	PreReceive(ctx context.Context, push *Push, out io.Writer) error
	PostReceive(ctx context.Context, push *Push, out io.Writer)
}

// NopHooks accepts every push that passed the built-in rules and does nothing after it.
type NopHooks struct{}

var _ Hooks = NopHooks{}

// PreReceive accepts.
func (NopHooks) PreReceive(context.Context, *Push, io.Writer) error { return nil }

// PostReceive does nothing.
func (NopHooks) PostReceive(context.Context, *Push, io.Writer) {}
