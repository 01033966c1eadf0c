package secrets_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitopsd/gitopsd/internal/sopstest"
	"github.com/gitopsd/gitopsd/secrets"
)

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
stringData:
  password: hunter2-very-secret
  user: admin-user
`

func identities(t *testing.T, ks ...sopstest.Key) *secrets.Identities {
	t.Helper()
	var text [][]byte
	for _, k := range ks {
		text = append(text, []byte(k.Identity))
	}
	ids, err := secrets.ParseIdentities(text...)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestOpenRoundTrip(t *testing.T) {
	k := sopstest.NewKey(t)
	for _, c := range []struct {
		name  string
		f     secrets.Format
		plain string
		want  []string
	}{
		{"secret.yaml", secrets.YAML, secretYAML, []string{"hunter2-very-secret", "admin-user"}},
		{"secret.json", secrets.JSON, `{"kind": "Secret", "stringData": {"password": "json-secret-1"}}`, []string{"json-secret-1"}},
		{"db.env", secrets.Dotenv, "PASSWORD=dotenv-secret-2\nUSER=bob\n", []string{"dotenv-secret-2", "bob"}},
		{"tls.key", secrets.Binary, "-----BEGIN KEY-----\nbinary-secret-3\n", []string{"-----BEGIN KEY-----\nbinary-secret-3\n"}},
	} {
		t.Run(c.f.String(), func(t *testing.T) {
			opts := sopstest.Options{}
			if c.f == secrets.YAML || c.f == secrets.JSON {
				opts.EncryptedRegex = sopstest.ManifestRegex
			}
			enc := sopstest.Encrypt(t, []byte(c.plain), c.f, opts, k.Recipient)
			for _, v := range c.want {
				if bytes.Contains(enc, []byte(v)) {
					t.Fatalf("the encrypted file holds %q", v)
				}
			}
			f, ok := secrets.Detect(c.name, enc)
			if !ok || f != c.f {
				t.Fatalf("Detect = %v, %v; want %v", f, ok, c.f)
			}
			if _, ok := secrets.Detect(c.name, []byte(c.plain)); ok {
				t.Fatal("the plain file is detected as SOPS")
			}
			got, err := secrets.Open(enc, f, secrets.Options{Identities: identities(t, k), Recipients: []string{k.Recipient}})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range c.want {
				if !bytes.Contains(got.Plain, []byte(v)) {
					t.Errorf("decrypted file lacks %q:\n%s", v, got.Plain)
				}
			}
			if strings.Join(got.Values, "|") != strings.Join(c.want, "|") {
				t.Errorf("Values = %q, want %q", got.Values, c.want)
			}
			if bytes.Contains(got.Plain, []byte("sops")) {
				t.Errorf("decrypted file keeps sops metadata:\n%s", got.Plain)
			}
		})
	}
}

func TestOpenRefusals(t *testing.T) {
	k, other := sopstest.NewKey(t), sopstest.NewKey(t)
	enc := sopstest.Encrypt(t, []byte(secretYAML), secrets.YAML, sopstest.Options{EncryptedRegex: sopstest.ManifestRegex}, k.Recipient)
	cases := []struct {
		name string
		data []byte
		opts secrets.Options
		want error
	}{
		{"wrong recipient", enc, secrets.Options{Identities: identities(t, other), Recipients: []string{other.Recipient}}, secrets.ErrRecipients},
		{"no identity", enc, secrets.Options{Recipients: []string{k.Recipient}}, secrets.ErrDecrypt},
		{"identity of another key", enc, secrets.Options{Identities: identities(t, other)}, secrets.ErrDecrypt},
		// The name is in clear (--encrypted-regex) but covered by the MAC.
		{"tampered clear field", bytes.Replace(enc, []byte("name: db"), []byte("name: dc"), 1), secrets.Options{Identities: identities(t, k)}, secrets.ErrTampered},
		{"tampered value", tamperValue(t, enc), secrets.Options{Identities: identities(t, k)}, secrets.ErrTampered},
		{"removed value", removeLine(t, enc, "user: ENC["), secrets.Options{Identities: identities(t, k)}, secrets.ErrTampered},
		{"garbage metadata", []byte("kind: Secret\nsops:\n  nothing: here\n"), secrets.Options{Identities: identities(t, k)}, secrets.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := secrets.Open(c.data, secrets.YAML, c.opts)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "admin-user") {
				t.Fatalf("the error shows a value: %v", err)
			}
			if f != nil && (f.Kind != "Secret" || f.Name == "") {
				t.Errorf("object not named: %+v", f)
			}
		})
	}
}

// A pushed file names key services of its own: a Vault address (here a server that counts
// its requests), a KMS key, a PGP fingerprint. Opening it tries the age identities and
// nothing else: no request, no subprocess, no key file.
func TestOpenContactsNoKeyService(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	k, other := sopstest.NewKey(t), sopstest.NewKey(t)
	enc := sopstest.Encrypt(t, []byte(secretYAML), secrets.YAML, sopstest.Options{EncryptedRegex: sopstest.ManifestRegex}, k.Recipient)
	extra := "    hc_vault:\n        - vault_address: " + srv.URL + "\n          engine_path: sops\n          key_name: k\n          created_at: \"2026-01-01T00:00:00Z\"\n          enc: vault:v1:AAAA\n" +
		"    kms:\n        - arn: arn:aws:kms:us-east-1:1:key/x\n          endpoint: " + srv.URL + "\n          created_at: \"2026-01-01T00:00:00Z\"\n          enc: AAAA\n" +
		"    pgp:\n        - fp: 0123456789ABCDEF\n          created_at: \"2026-01-01T00:00:00Z\"\n          enc: AAAA\n"
	mod := bytes.Replace(enc, []byte("\nsops:\n"), []byte("\nsops:\n"+extra), 1)
	t.Setenv("SOPS_AGE_KEY", k.Identity) // the library would take this; Open must not
	f, err := secrets.Open(mod, secrets.YAML, secrets.Options{Identities: identities(t, other)})
	if !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("err = %v, want ErrDecrypt", err)
	}
	if f.Others != 3 {
		t.Errorf("Others = %d, want 3 (vault, kms, pgp)", f.Others)
	}
	if hits.Load() != 0 {
		t.Fatalf("the key service was contacted %d times", hits.Load())
	}
}

func TestCheckOnly(t *testing.T) {
	k := sopstest.NewKey(t)
	enc := sopstest.Encrypt(t, []byte(secretYAML), secrets.YAML, sopstest.Options{EncryptedRegex: sopstest.ManifestRegex}, k.Recipient)
	f, err := secrets.Open(enc, secrets.YAML, secrets.Options{CheckOnly: true, Recipients: []string{k.Recipient}})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(f.Plain, []byte("hunter2")) || !bytes.Contains(f.Plain, []byte("ENC[")) || bytes.Contains(f.Plain, []byte("sops:")) {
		t.Fatalf("check-only output:\n%s", f.Plain)
	}
	if _, err := secrets.Open(enc, secrets.YAML, secrets.Options{CheckOnly: true, Recipients: []string{sopstest.NewKey(t).Recipient}}); !errors.Is(err, secrets.ErrRecipients) {
		t.Fatalf("err = %v, want ErrRecipients", err)
	}
}

func TestIdentitiesNeverPrinted(t *testing.T) {
	k := sopstest.NewKey(t)
	ids := identities(t, k)
	secret := strings.TrimSpace(strings.Split(k.Identity, "\n")[1])
	for _, s := range []string{ids.String(), ids.GoString(), fmt.Sprint(ids), fmt.Sprint(*ids), fmt.Sprintf("%#v %+v", *ids, ids)} {
		if strings.Contains(s, secret) {
			t.Fatal("identity printed")
		}
	}
	if _, err := secrets.ParseIdentities([]byte("# c\n" + secret + "x\n")); err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
	if got := ids.Recipients(); len(got) != 1 || got[0] != k.Recipient {
		t.Fatalf("Recipients = %v", got)
	}
}

// tamperValue swaps the ciphertexts of the two encrypted values: each is authenticated with
// its own path, so neither decrypts.
func tamperValue(t *testing.T, enc []byte) []byte {
	lines := strings.Split(string(enc), "\n")
	var idx []int
	for i, l := range lines {
		if strings.Contains(l, ": ENC[") && !strings.Contains(l, "mac:") {
			idx = append(idx, i)
		}
	}
	if len(idx) < 2 {
		t.Fatalf("want two values:\n%s", enc)
	}
	a, b := lines[idx[0]], lines[idx[1]]
	ka, va, _ := strings.Cut(a, ": ")
	kb, vb, _ := strings.Cut(b, ": ")
	lines[idx[0]], lines[idx[1]] = ka+": "+vb, kb+": "+va
	return []byte(strings.Join(lines, "\n"))
}

func removeLine(t *testing.T, enc []byte, sub string) []byte {
	lines := strings.Split(string(enc), "\n")
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return []byte(strings.Join(append(lines[:i:i], lines[i+1:]...), "\n"))
		}
	}
	t.Fatalf("no line with %q", sub)
	return nil
}
