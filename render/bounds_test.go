package render

import (
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitopsd/gitopsd/gittree"
	"github.com/gitopsd/gitopsd/internal/testfs"
	"github.com/gitopsd/gitopsd/internal/testgit"
)

// hugeFS holds one file that claims 100 MB and fails the test if more than a few bytes
// of it are read.
type hugeFS struct {
	fstest.MapFS
	t    *testing.T
	read int
}

type hugeFile struct {
	fs *hugeFS
}

const hugeSize = 100 << 20

func (h *hugeFS) Open(name string) (fs.File, error) {
	if name == "m/huge.yaml" {
		return &hugeFile{h}, nil
	}
	return h.MapFS.Open(name)
}

func (h *hugeFS) Stat(name string) (fs.FileInfo, error) {
	if name == "m/huge.yaml" {
		return hugeInfo{}, nil
	}
	return fs.Stat(h.MapFS, name)
}

func (f *hugeFile) Stat() (fs.FileInfo, error) { return hugeInfo{}, nil }
func (f *hugeFile) Close() error               { return nil }
func (f *hugeFile) Read(p []byte) (int, error) {
	f.fs.read += len(p)
	if f.fs.read > 1<<20 {
		f.fs.t.Error("the 100 MB file is being read")
		return 0, io.EOF
	}
	for i := range p {
		p[i] = '#'
	}
	return len(p), nil
}

type hugeInfo struct{}

func (hugeInfo) Name() string       { return "huge.yaml" }
func (hugeInfo) Size() int64        { return hugeSize }
func (hugeInfo) Mode() fs.FileMode  { return 0o644 }
func (hugeInfo) ModTime() time.Time { return time.Time{} }
func (hugeInfo) IsDir() bool        { return false }
func (hugeInfo) Sys() any           { return nil }

func TestHugeManifestRefusedUnread(t *testing.T) {
	h := &hugeFS{MapFS: tree(map[string]string{"m/ok.yaml": deploy}), t: t}
	h.MapFS["m/huge.yaml"] = &fstest.MapFile{} // listed by ReadDir; Open and Stat are overridden
	start := time.Now()
	res := render(t, h, Options{Path: "m", DefaultNamespace: "x"})
	wantProblem(t, res, RuleTooLarge, "m/huge.yaml: file is 100.0 MiB, more than the limit of 64.0 MiB")
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	if h.read != 0 {
		t.Errorf("read %d bytes of the huge file", h.read)
	}
}

func TestTotalInputBound(t *testing.T) {
	files := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		files["m/"+n+".yaml"] = strings.Replace(deploy, "web", n, 1) + "# " + strings.Repeat("x", 400) + "\n"
	}
	res := render(t, tree(files), Options{Path: "m", DefaultNamespace: "x", MaxBytes: 1000})
	wantProblem(t, res, RuleTooLarge, "m/c.yaml: manifests add up to more than the limit of 1000 bytes")
}

// gitTree commits files (content "symlink:T" makes a symlink to T) with the real git and
// opens the commit with gittree, as the pre-receive hook does.
func gitTree(t testing.TB, files map[string]string) *gittree.Tree { return testgit.GitTree(t, files) }

// TestSymlinkToEtc commits symlinks to /etc and /etc/passwd and checks that each is a
// problem naming the link, and that no line of /etc/passwd reaches the objects.
func TestSymlinkToEtc(t *testing.T) {
	files := map[string]string{
		"m/ok.yaml":     deploy,
		"m/passwd.yaml": "symlink:/etc/passwd",
		"m/etc":         "symlink:/etc",
		"m/up.yaml":     "symlink:../../../etc/hostname",
		"m/inside.yaml": "symlink:../base/cm.yaml",
		"base/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
	}
	for name, fsys := range map[string]fs.FS{"gittree": gitTree(t, files), "os.Root": osRoot(t, files)} {
		t.Run(name, func(t *testing.T) {
			res := render(t, fsys, Options{Path: "m", DefaultNamespace: "x"})
			var got []string
			for _, p := range res.Problems {
				got = append(got, p.String())
			}
			all := strings.Join(got, "\n")
			for _, want := range []string{"m/passwd.yaml: cannot read:", "m/etc: cannot read:", "m/up.yaml: cannot read:"} {
				if !strings.Contains(all, want) {
					t.Errorf("missing %q in\n%s", want, all)
				}
			}
			t.Log(all)
			if len(got) != 3 {
				t.Errorf("problems:\n%s", all)
			}
			if n := names(res); len(n) != 2 || !strings.Contains(strings.Join(n, " "), "ConfigMap/x/shared@m/inside.yaml:1") {
				t.Errorf("objects %v", n)
			}
			if strings.Contains(dump(res), "root:") {
				t.Error("/etc/passwd leaked")
			}
		})
	}
}

// osRoot writes files to a directory and opens it the way `gitopsd validate DIR` should:
// with os.OpenRoot, whose FS refuses symlinks that leave the directory.
func osRoot(t testing.TB, files map[string]string) fs.FS {
	dir := t.TempDir()
	testfs.Write(t, dir, files)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root.FS()
}

// TestHugeBlobInGit pushes a real 100 MB manifest through git and gittree: it is refused
// from its size alone.
func TestHugeBlobInGit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MB blob")
	}
	line := "# a comment line that pads the manifest to a hundred megabytes....\n"
	big := deploy + strings.Repeat(line, hugeSize/len(line)+1)
	tr := gitTree(t, map[string]string{"m/huge.yaml": big, "m/ok.yaml": strings.Replace(deploy, "web", "ok", 1)})
	start := time.Now()
	res := render(t, tr, Options{Path: "m", DefaultNamespace: "x"})
	wantProblem(t, res, RuleTooLarge, "m/huge.yaml: file is 100.0 MiB, more than the limit of 64.0 MiB")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing took %v", d)
	}
	t.Logf("refused in %v", time.Since(start))
}
