package kube

import (
	"fmt"
	"sort"
	"strings"
)

// Action is what happened (or, in a dry run, would happen) to one object.
type Action string

const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Deleted    Action = "deleted"
	Skipped    Action = "skipped"
	Failed     Action = "failed"
)

// FieldChange is one changed field: its path (".spec.replicas",
// ".spec.template.spec.containers[name=web].image") and short renderings of the old and
// new values ("" when absent). Values of Secret data are "***".
type FieldChange struct {
	Path string
	Old  string
	New  string
	// Manager, in drift reports, is the other field manager that owns the field now
	// (for example "kubectl-edit"); empty when it is still ours.
	Manager string `json:",omitempty"`
	// From, in an apply or its dry run, names the other field managers that owned the
	// field before and lose it to this apply ("kubectl" after a kubectl scale; several
	// are joined by ", "): the push takes the field back from them. Empty when nobody else
	// had it.
	From string `json:",omitempty"`
	// Sensitive marks a Secret's value: it is told as changed, added or removed, never
	// shown (Old and New are masked too).
	Sensitive bool `json:",omitempty"`
}

// String renders the change for a person: ".spec.replicas: 5 -> 2", with the manager the
// push takes it from ("... (was kubectl's)") or, in drift, the one that has it now.
func (f FieldChange) String() string {
	plain := FieldChange{Path: f.Path, Old: f.Old, New: f.New, Sensitive: f.Sensitive}
	switch {
	case f.Manager != "":
		return fmt.Sprintf("%s (owned by %s)", plain, f.Manager)
	case f.From != "":
		return fmt.Sprintf("%s (was %s's)", plain, strings.ReplaceAll(f.From, ", ", "'s and "))
	}
	switch {
	case f.Sensitive && f.Old == "":
		return f.Path + " added"
	case f.Sensitive && f.New == "":
		return f.Path + " removed"
	case f.Sensitive:
		return f.Path + " changed"
	case f.Old == "":
		return fmt.Sprintf("%s: + %s", f.Path, f.New)
	case f.New == "":
		return fmt.Sprintf("%s: - %s", f.Path, f.Old)
	default:
		return fmt.Sprintf("%s: %s -> %s", f.Path, f.Old, f.New)
	}
}

// Change is the result for one object.
type Change struct {
	ID     ObjectID
	Action Action
	// Fields lists what changed, for Configured (and drift).
	Fields []FieldChange
	// Message says why an object was skipped, or holds the API's error for Failed.
	// It never contains Secret data.
	Message string
	// Err is the error behind Failed, for errors.Is and API status checks.
	Err error `json:"-"`
}

func (c Change) String() string {
	s := fmt.Sprintf("%s %s", c.ID.Short(), c.Action)
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

// ChangeSet is the result of one operation, one Change per object, in the order the
// objects were given (prune: the order they were deleted in).
type ChangeSet struct {
	Changes []Change
}

// Add appends changes.
func (cs *ChangeSet) Add(c ...Change) { cs.Changes = append(cs.Changes, c...) }

// Count returns how many changes have action a.
func (cs *ChangeSet) Count(a Action) int {
	n := 0
	for _, c := range cs.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Failed returns the failed changes.
func (cs *ChangeSet) Failed() []Change { return cs.filter(Failed) }

// HasFailed says whether any object failed.
func (cs *ChangeSet) HasFailed() bool { return cs.Count(Failed) > 0 }

func (cs *ChangeSet) filter(a Action) []Change {
	var out []Change
	for _, c := range cs.Changes {
		if c.Action == a {
			out = append(out, c)
		}
	}
	return out
}

// Get returns the change for id.
func (cs *ChangeSet) Get(id ObjectID) (Change, bool) {
	for _, c := range cs.Changes {
		if c.ID == id {
			return c, true
		}
	}
	return Change{}, false
}

// Summary is a one-line count: "12 objects (3 created, 2 configured, 7 unchanged)".
func (cs *ChangeSet) Summary() string {
	var parts []string
	for _, a := range []Action{Created, Configured, Unchanged, Deleted, Skipped, Failed} {
		if n := cs.Count(a); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	noun := "objects"
	if len(cs.Changes) == 1 {
		noun = "object"
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d %s", len(cs.Changes), noun)
	}
	return fmt.Sprintf("%d %s (%s)", len(cs.Changes), noun, strings.Join(parts, ", "))
}

// Sort orders the changes by object ID.
func (cs *ChangeSet) Sort() {
	sort.SliceStable(cs.Changes, func(i, j int) bool { return idLess(cs.Changes[i].ID, cs.Changes[j].ID) })
}
