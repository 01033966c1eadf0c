package render_test

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/sopstest"
	"github.com/gitopsd/gitopsd/internal/testfs"
	"github.com/gitopsd/gitopsd/internal/testgit"
	"github.com/gitopsd/gitopsd/render"
	"github.com/gitopsd/gitopsd/secrets"
)

// secrets1000 is 1,000 objects: 900 Deployments in 90 files of 10, and 100 Secrets of
// three values, a file each, SOPS-encrypted to k (values only, as the README tells) or,
// with k nil, in clear.
func secrets1000(b *testing.B, k *sopstest.Key) map[string]string {
	files := map[string]string{}
	for f := 0; f < 90; f++ {
		var sb strings.Builder
		for d := 0; d < 10; d++ {
			sb.WriteString("---\n" + testfs.Deployment(f*10+d))
		}
		files[fmt.Sprintf("deploy/group-%02d/apps.yaml", f)] = sb.String()
	}
	for i := 0; i < 100; i++ {
		s := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-%[1]d\n  labels: {app: app-%[1]d}\n"+
			"stringData:\n  password: pw-%[1]d-0123456789abcdef\n  user: app-%[1]d\n  url: postgres://db-%[1]d.example:5432/app\n", i)
		if k != nil {
			s = string(sopstest.Encrypt(b, []byte(s), secrets.YAML, sopstest.Options{EncryptedRegex: sopstest.ManifestRegex}, k.Recipient))
		}
		files[fmt.Sprintf("deploy/secrets/app-%03d.yaml", i)] = s
	}
	return files
}

func secretsBench(b *testing.B, encrypted bool) (fs.FS, render.Options) {
	opts := render.Options{Path: "deploy", DefaultNamespace: "shop"}
	if !encrypted {
		return testgit.GitTree(b, secrets1000(b, nil)), opts
	}
	k := sopstest.NewKey(b)
	opts.Secrets = &render.Secrets{Identities: render.Keys{k.Identity}, Recipients: []string{k.Recipient}, RequireEncryption: true}
	return testgit.GitTree(b, secrets1000(b, &k)), opts
}

func benchInProcess(b *testing.B, fsys fs.FS, opts render.Options) {
	b.ReportAllocs()
	for b.Loop() {
		res, err := render.Render(context.Background(), fsys, opts)
		if err != nil {
			b.Fatal(err)
		}
		if !res.OK() || len(res.Objects) != 1000 {
			b.Fatalf("%d objects: %v", len(res.Objects), res.Problems)
		}
	}
}

// BenchmarkSecrets1000Git renders 1,000 objects from git, 100 of them SOPS-encrypted
// Secrets decrypted with an age identity (MAC verified), in process.
func BenchmarkSecrets1000Git(b *testing.B) {
	fsys, opts := secretsBench(b, true)
	benchInProcess(b, fsys, opts)
}

// BenchmarkSecretsClear1000Git is the same objects with the Secrets in clear: the baseline.
func BenchmarkSecretsClear1000Git(b *testing.B) {
	fsys, opts := secretsBench(b, false)
	benchInProcess(b, fsys, opts)
}

// BenchmarkSandboxSecrets1000Git is BenchmarkSecrets1000Git through the render sandbox,
// as a push renders: the identity travels with the request.
func BenchmarkSandboxSecrets1000Git(b *testing.B) {
	fsys, opts := secretsBench(b, true)
	benchSandbox(b, fsys, opts, 1000)
}

// BenchmarkSandboxSecretsClear1000Git is its baseline, the Secrets in clear.
func BenchmarkSandboxSecretsClear1000Git(b *testing.B) {
	fsys, opts := secretsBench(b, false)
	benchSandbox(b, fsys, opts, 1000)
}
