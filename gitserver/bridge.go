package gitserver

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// The hook bridge protocol, between `gitopsd hook` (inside git) and the daemon, over the
// unix socket: the hook writes one JSON hookRequest line; the daemon answers with frames,
// output first, then exactly one verdict. A missing verdict means the daemon went away, and
// the hook refuses the push.

// Environment variables the daemon puts in git's environment for the hooks.
const (
	envSession = "GITOPSD_SESSION"
)

// hookRequest is what the hook sends.
type hookRequest struct {
	Hook    string      `json:"hook"`
	Session string      `json:"session"`
	GitDir  string      `json:"git_dir"`
	Updates []RefUpdate `json:"updates"`
	Options []string    `json:"options"`

	QuarantineDir       string   `json:"quarantine_dir"`
	ObjectDir           string   `json:"object_dir"`
	AlternateObjectDirs []string `json:"alternate_object_dirs"`
}

// Frame types.
const (
	frameOutput  byte = 'o'
	frameVerdict byte = 'x'
)

// maxFrame bounds a frame the hook accepts, so a confused peer cannot make it allocate much.
const maxFrame = 1 << 20

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(append(hdr[:], payload...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

// frameWriter sends what hooks write as output frames. Hooks may write from several
// goroutines; frames must not interleave.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (f *frameWriter) Write(p []byte) (int, error) {
	n := len(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		// The pusher went away; the hook keeps running to its end, its output goes nowhere.
		return n, nil
	}
	for len(p) > 0 {
		chunk := p
		if len(chunk) > maxFrame {
			chunk = chunk[:maxFrame]
		}
		if err := writeFrame(f.w, frameOutput, chunk); err != nil {
			f.err = err
			break
		}
		p = p[len(chunk):]
	}
	return n, nil
}

func (f *frameWriter) verdict(code byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	return writeFrame(f.w, frameVerdict, []byte{code})
}
