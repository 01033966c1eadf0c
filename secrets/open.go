package secrets

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	sopsconfig "github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	"github.com/getsops/sops/v3/stores/json"
	"github.com/getsops/sops/v3/stores/yaml"
)

// Format is the file format of a SOPS file, as sops picks it from the file's name.
type Format int

// Formats, as `sops --input-type` names them.
const (
	YAML Format = iota + 1
	JSON
	Dotenv
	INI
	Binary
)

func (f Format) String() string {
	return [...]string{"", "yaml", "json", "dotenv", "ini", "binary"}[f]
}

var (
	yamlMeta   = regexp.MustCompile(`(?m)^sops:[ \t]*(#.*)?\r?$`)
	jsonMeta   = regexp.MustCompile(`"sops"\s*:\s*\{`)
	dotenvMeta = regexp.MustCompile(`(?m)^sops_mac=`)
	iniMeta    = regexp.MustCompile(`(?m)^\[sops\]`)
)

// Detect says whether data, the content of the file name, is SOPS-encrypted, and in which
// format. It looks for the metadata sops writes (a top-level sops key, sops_mac=, a [sops]
// section) in the format sops would pick from the name; it costs a byte search for a file
// that does not mention sops at all.
func Detect(name string, data []byte) (Format, bool) {
	if !bytes.Contains(data, []byte("sops")) {
		return 0, false
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		return YAML, yamlMeta.Match(data)
	case ".json":
		return JSON, jsonMeta.Match(data)
	case ".env":
		return Dotenv, dotenvMeta.Match(data)
	case ".ini":
		return INI, iniMeta.Match(data)
	}
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '{' && jsonMeta.Match(t) && bytes.Contains(t, []byte(`"data"`)) {
		return Binary, true
	}
	return 0, false
}

// Options say how to open a SOPS file.
type Options struct {
	// Identities open the file's data key.
	Identities *Identities
	// Recipients, if any, are the age public keys the file must be encrypted to: at least
	// one of them (a writer may add keys of their own; rotation lists old and new).
	Recipients []string
	// CheckOnly checks what can be checked without a key (metadata, recipients) and
	// decrypts nothing: File.Plain then holds the values still encrypted.
	CheckOnly bool
}

// File is an opened SOPS file.
type File struct {
	Format Format
	// Plain is the decrypted file, without its sops metadata, in its own format.
	Plain []byte
	// Recipients are the age recipients the file is encrypted to; Others counts its keys
	// of other kinds (KMS, PGP, Vault), which are never used.
	Recipients []string
	Others     int
	// Values are the values that were encrypted, decrypted: what must never be printed.
	Values []string
	// Kind, Namespace and Name are those of the file's first document when they are not
	// encrypted (for messages); empty otherwise.
	Kind, Namespace, Name string
}

// Open decrypts data, a SOPS file in format f, in memory. On an error (one of the Err
// values, wrapped) the File is still returned with what is known without decrypting
// (recipients, kind and name) when the metadata could be read.
func Open(data []byte, f Format, opts Options) (*File, error) {
	st := store(f)
	tree, err := st.LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("%w: its sops metadata cannot be read", ErrMalformed)
	}
	out := &File{Format: f}
	out.Kind, out.Namespace, out.Name = identify(tree.Branches)
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			if ak, ok := k.(*sopsage.MasterKey); ok {
				out.Recipients = append(out.Recipients, ak.Recipient)
			} else {
				out.Others++
			}
		}
	}
	if len(opts.Recipients) > 0 && !intersects(out.Recipients, opts.Recipients) {
		return out, fmt.Errorf("%w: it is encrypted to %s", ErrRecipients, describeRecipients(out))
	}
	if opts.CheckOnly {
		if out.Plain, err = st.EmitPlainFile(tree.Branches); err != nil {
			return out, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return out, nil
	}
	if len(tree.Metadata.KeyGroups) > 1 {
		return out, ErrUnsupported
	}
	key, err := dataKey(tree.Metadata, opts.Identities)
	if err != nil {
		return out, err
	}
	encrypted := encryptedLeaves(tree.Branches)
	cipher := aes.NewCipher()
	// Tree.Decrypt decrypts every value (AES-GCM authenticates each one, with its path
	// as additional data) and computes the MAC over the values; the MAC stored in the
	// file is itself encrypted with the data key and the last-modified time.
	mac, err := tree.Decrypt(key, cipher)
	if err != nil {
		return out, fmt.Errorf("%w (a value does not authenticate)", ErrTampered)
	}
	stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || stored != mac {
		return out, ErrTampered
	}
	out.Values = decryptedValues(tree.Branches, encrypted)
	if out.Plain, err = st.EmitPlainFile(tree.Branches); err != nil {
		return out, fmt.Errorf("%w: %s", ErrMalformed, "its decrypted content cannot be written out")
	}
	return out, nil
}

// dataKey opens the file's data key with the first of its age entries an identity opens.
// Only age entries are tried: the library's own GetDataKey would also try the
// environment's keys, GPG and cloud KMS.
func dataKey(m sops.Metadata, ids *Identities) ([]byte, error) {
	if ids.Len() == 0 {
		return nil, fmt.Errorf("%w: no age identity is configured for this environment", ErrDecrypt)
	}
	for _, g := range m.KeyGroups {
		for _, k := range g {
			ak, ok := k.(*sopsage.MasterKey)
			if !ok {
				continue
			}
			r, err := age.Decrypt(armor.NewReader(strings.NewReader(ak.EncryptedKey)), ids.ids...)
			if err != nil {
				continue
			}
			key, err := io.ReadAll(io.LimitReader(r, 1024))
			if err == nil && len(key) == 32 {
				return key, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: none of the daemon's age identities opens it", ErrDecrypt)
}

func store(f Format) sops.Store {
	switch f {
	case JSON:
		return json.NewStore(&sopsconfig.JSONStoreConfig{})
	case Dotenv:
		return dotenv.NewStore(&sopsconfig.DotenvStoreConfig{})
	case INI:
		return ini.NewStore(&sopsconfig.INIStoreConfig{})
	case Binary:
		return json.NewBinaryStore(&sopsconfig.JSONBinaryStoreConfig{})
	}
	return yaml.NewStore(&sopsconfig.YAMLStoreConfig{})
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if strings.TrimSpace(x) == strings.TrimSpace(y) {
				return true
			}
		}
	}
	return false
}

func describeRecipients(f *File) string {
	var parts []string
	if len(f.Recipients) > 0 {
		parts = append(parts, strings.Join(f.Recipients, ", "))
	}
	if f.Others > 0 {
		parts = append(parts, fmt.Sprintf("%d key(s) of other kinds (KMS, PGP, Vault), which gitopsd does not use", f.Others))
	}
	if len(parts) == 0 {
		return "no age recipient"
	}
	return strings.Join(parts, " and ")
}

// identify finds kind, metadata.namespace and metadata.name in the first document, when
// they are in clear.
func identify(bs sops.TreeBranches) (kind, ns, name string) {
	if len(bs) == 0 {
		return
	}
	clear := func(v any) string {
		s, _ := v.(string)
		if strings.HasPrefix(s, "ENC[") {
			return ""
		}
		return s
	}
	for _, it := range bs[0] {
		switch it.Key {
		case "kind":
			kind = clear(it.Value)
		case "metadata":
			md, _ := it.Value.(sops.TreeBranch)
			for _, m := range md {
				switch m.Key {
				case "name":
					name = clear(m.Value)
				case "namespace":
					ns = clear(m.Value)
				}
			}
		}
	}
	return
}

// walkLeaves calls fn on every scalar value of the tree, in order.
func walkLeaves(v any, fn func(any)) {
	switch x := v.(type) {
	case sops.TreeBranches:
		for _, b := range x {
			walkLeaves(b, fn)
		}
	case sops.TreeBranch:
		for _, it := range x {
			if _, ok := it.Key.(sops.Comment); ok {
				continue
			}
			walkLeaves(it.Value, fn)
		}
	case []any:
		for _, e := range x {
			walkLeaves(e, fn)
		}
	case sops.Comment:
	default:
		fn(x)
	}
}

// encryptedLeaves marks, in walk order, which leaves are encrypted values.
func encryptedLeaves(bs sops.TreeBranches) []bool {
	var enc []bool
	walkLeaves(bs, func(v any) {
		s, _ := v.(string)
		enc = append(enc, strings.HasPrefix(s, "ENC["))
	})
	return enc
}

// decryptedValues are the leaves that encrypted marks, after decryption.
func decryptedValues(bs sops.TreeBranches, encrypted []bool) []string {
	var vals []string
	i := 0
	walkLeaves(bs, func(v any) {
		if i < len(encrypted) && encrypted[i] {
			vals = append(vals, fmt.Sprint(v))
		}
		i++
	})
	return vals
}
