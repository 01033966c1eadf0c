package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"
)

// MaxFileSize bounds repos.yaml; anything larger is a mistake, not a configuration.
const MaxFileSize = 4 << 20

// Load reads, parses and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, MaxFileSize)
	}
	return Parse(path, data)
}

// Parse parses and validates data as the contents of file. Relative paths in the
// configuration are resolved against file's directory.
func Parse(file string, data []byte) (*Config, error) {
	p := &parser{file: file, lines: map[string]int{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrorList{{File: file, Line: 1, Msg: "the file is empty: expected server, users, clusters and repos"}}
		}
		return nil, ErrorList{p.yamlError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, ErrorList{{File: file, Line: extra.Line, Msg: "more than one YAML document: repos.yaml holds exactly one"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{{File: file, Line: root.Line, Msg: "expected a mapping with server, users, clusters and repos"}}
	}
	if bad := findAlias(root, 0); bad != nil {
		return nil, ErrorList{bad.withFile(file)}
	}

	p.walk(root, reflect.TypeOf(Config{}), "")
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	cfg := &Config{File: file}
	if err := root.Decode(cfg); err != nil {
		return nil, ErrorList{p.yamlError(err)}
	}
	p.defaults(cfg)
	p.validate(cfg)
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		return nil, p.errs
	}
	return cfg, nil
}

// checkAliases refuses aliases outright: repos.yaml has no use for them, and they are how a
// small file expands into a huge one.
func findAlias(n *yaml.Node, depth int) *Error {
	if depth > 64 {
		return &Error{Line: n.Line, Msg: "nested deeper than 64 levels"}
	}
	if n.Kind == yaml.AliasNode {
		return &Error{Line: n.Line, Msg: fmt.Sprintf("YAML aliases (*%s) are not allowed in repos.yaml: write the value out", n.Value)}
	}
	for _, c := range n.Content {
		if e := findAlias(c, depth+1); e != nil {
			return e
		}
	}
	return nil
}

func (e *Error) withFile(file string) *Error {
	e.File = file
	return e
}

// Error is one problem in a configuration file, tied to its line and key.
type Error struct {
	File string
	Line int
	// Key is the dotted path of the offending key, such as repos.platform.write.
	Key string
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one file.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

type parser struct {
	file  string
	lines map[string]int // dotted key path -> line of its key
	errs  ErrorList
}

func (p *parser) errorf(key string, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: p.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// line finds the line of key, or of its nearest parent that was written in the file.
func (p *parser) line(key string) int {
	for k := key; k != ""; {
		if l, ok := p.lines[k]; ok {
			return l
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// yamlError turns the decoder's "yaml: line 3: ..." into our form.
func (p *parser) yamlError(err error) *Error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		if i := strings.Index(msg, ":"); i >= 0 {
			msg = strings.TrimSpace(msg[i+1:])
		}
	}
	return &Error{File: p.file, Line: line, Msg: msg}
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	userType     = reflect.TypeOf(User{})
	pauseType    = reflect.TypeOf(Pause{})
)

// walk checks the shape of n against t before decoding, so that unknown keys and wrong
// kinds are reported with their line and dotted key, and records where every key is.
func (p *parser) walk(n *yaml.Node, t reflect.Type, key string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch {
	case t == userType:
		switch n.Kind {
		case yaml.SequenceNode:
			for i, c := range n.Content {
				k := fmt.Sprintf("%s[%d]", key, i)
				p.lines[k] = c.Line
				if c.Kind != yaml.ScalarNode {
					p.errorf(k, "expected an authorized_keys line (\"ssh-ed25519 AAAA... comment\")")
				}
			}
		case yaml.ScalarNode:
		default:
			p.errorf(key, "expected a list of authorized_keys lines")
		}
	case t == pauseType:
		switch {
		case n.Kind == yaml.MappingNode && len(n.Content) == 0:
		case n.Kind == yaml.ScalarNode:
			if _, err := time.ParseDuration(n.Value); err != nil {
				p.errorf(key, "expected a duration such as 1m, or {} to wait for `promote`, got %q", n.Value)
			}
		default:
			p.errorf(key, "expected a duration such as 1m, or {} to wait for `promote`")
		}
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			p.errorf(key, "expected a duration such as 30s or 5m")
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			p.errorf(key, "expected a duration such as 30s or 5m, got %q", n.Value)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.errorf(key, "expected a mapping with keys %s", strings.Join(fieldNames(t), ", "))
			return
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			fields[name] = f.Type
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := join(key, k.Value)
			p.lines[child] = k.Line
			ft, ok := fields[k.Value]
			switch {
			case !ok:
				p.errorf(child, "unknown key %q (expected one of: %s)", k.Value, strings.Join(fieldNames(t), ", "))
			case seen[k.Value]:
				p.errorf(child, "key %q is given twice", k.Value)
			default:
				p.walk(v, ft, child)
			}
			seen[k.Value] = true
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			p.errorf(key, "expected a mapping of names")
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := join(key, k.Value)
			p.lines[child] = k.Line
			if seen[k.Value] {
				p.errorf(child, "%q is defined twice", k.Value)
			}
			seen[k.Value] = true
			p.walk(v, t.Elem(), child)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.errorf(key, "expected a list")
			return
		}
		for i, c := range n.Content {
			k := fmt.Sprintf("%s[%d]", key, i)
			p.lines[k] = c.Line
			p.walk(c, t.Elem(), k)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			p.errorf(key, "expected a single %s value", kindName(t))
		}
	}
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true/false"
	case reflect.Int, reflect.Int64:
		return "number"
	default:
		return "string"
	}
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// UnmarshalYAML reads a user as a list of authorized_keys lines (or a single line).
func (u *User) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		u.Keys = []string{n.Value}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			u.Keys = append(u.Keys, c.Value)
		}
	}
	return nil
}

// resolve makes a relative path relative to the configuration file's directory.
func (p *parser) resolve(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(p.file), path)
}

// parseKey parses one authorized_keys line.
func parseKey(line string) (ssh.PublicKey, error) {
	k, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("more than one key on the line")
	}
	return k, nil
}
