package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// document is one YAML document of a stream, as JSON-compatible values.
type document struct {
	line  int            // line of the document's first key
	obj   map[string]any // nil when the document is empty
	items []int          // for a List, the line of each item
}

// limits bound the work one document may cause.
type limits struct {
	maxDepth      int
	maxAliasNodes int
}

// decodeError is a problem found while converting a document, with its line.
type decodeError struct {
	line int
	rule string
	msg  string
	hint string
}

func (e *decodeError) Error() string { return e.msg }

var (
	yamlLineRe    = regexp.MustCompile(`^yaml: line (\d+): `)
	unknownAnchor = regexp.MustCompile(`^unknown anchor '([^']+)' referenced`)
)

// decodeStream parses a YAML (or JSON, which YAML 1.2 includes) stream of documents. It
// stops at the first syntax error, since the parser cannot resynchronise; documents before
// it are returned.
func decodeStream(file string, data []byte, lim limits, ps *problems) []document {
	var docs []document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			msg, line := err.Error(), 0
			if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = msg[len(m[0]):]
			}
			msg = strings.TrimPrefix(msg, "yaml: ")
			// For parser errors the YAML library reports a zero-based line (of the
			// enclosing block, or of the offending token); scanner errors are one-based.
			if line > 0 && strings.HasPrefix(msg, "did not find expected") {
				line++
			}
			if m := unknownAnchor.FindStringSubmatch(msg); m != nil && line == 0 {
				// The parser gives no line for this one: the first use of the alias.
				if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
					line = 1 + bytes.Count(data[:i], []byte("\n"))
				}
			}
			ps.add(Problem{File: file, Line: line, Rule: RuleYAMLSyntax, Message: "invalid YAML: " + msg})
			return docs
		}
		root := &n
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.ShortTag() == "!!null" {
			continue // an empty document, e.g. after a trailing ---
		}
		c := converter{lim: lim}
		v, err := c.value(root, 1)
		if err != nil {
			var de *decodeError
			if errors.As(err, &de) {
				ps.add(Problem{File: file, Line: de.line, Rule: de.rule, Message: de.msg, Hint: de.hint})
			}
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			ps.add(Problem{File: file, Line: root.Line, Rule: RuleNotObject,
				Message: fmt.Sprintf("document is a %s, not a Kubernetes object", kindName(root)),
				Hint:    "each YAML document must be a mapping with apiVersion, kind and metadata"})
			continue
		}
		docs = append(docs, document{line: root.Line, obj: obj, items: itemLines(root)})
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	}
	return "value"
}

// itemLines returns the line of each entry of a top-level "items" sequence.
func itemLines(root *yaml.Node) []int {
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "items" && root.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, it := range root.Content[i+1].Content {
				lines = append(lines, it.Line)
			}
			return lines
		}
	}
	return nil
}

// converter turns a node tree into JSON-compatible values (map[string]any, []any, string,
// int64, float64, bool, nil), expanding aliases under a budget so that a "billion laughs"
// document is refused after a bounded amount of work.
type converter struct {
	lim      limits
	expanded int // nodes produced through aliases so far
	inAlias  int
}

func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	if depth > c.lim.maxDepth {
		return nil, &decodeError{line: n.Line, rule: RuleYAMLDepth,
			msg:  fmt.Sprintf("document is nested more than %d levels deep", c.lim.maxDepth),
			hint: "flatten the document; Kubernetes objects are never this deep"}
	}
	if c.inAlias > 0 {
		c.expanded++
		if c.expanded > c.lim.maxAliasNodes {
			return nil, &decodeError{line: n.Line, rule: RuleYAMLAliases,
				msg:  fmt.Sprintf("YAML aliases expand to more than %d nodes", c.lim.maxAliasNodes),
				hint: "this looks like a YAML bomb; write the values out instead of nesting aliases"}
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], depth)
	case yaml.AliasNode:
		c.inAlias++
		defer func() { c.inAlias-- }()
		return c.value(n.Alias, depth)
	case yaml.ScalarNode:
		return scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, it := range n.Content {
			v, err := c.value(it, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n, depth)
	}
	return nil, &decodeError{line: n.Line, rule: RuleYAMLSyntax, msg: "unsupported YAML node"}
}

func (c *converter) mapping(n *yaml.Node, depth int) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return nil, &decodeError{line: k.Line, rule: RuleYAMLSyntax, msg: "mapping key is not a scalar"}
		}
		if prev, dup := seen[k.Value]; dup {
			return nil, &decodeError{line: k.Line, rule: RuleYAMLSyntax,
				msg: fmt.Sprintf("mapping key %q already defined at line %d", k.Value, prev)}
		}
		seen[k.Value] = k.Line
		val, err := c.value(v, depth+1)
		if err != nil {
			return nil, err
		}
		out[k.Value] = val
	}
	// Merged keys (<<: *base) never override keys written in the mapping itself.
	for _, m := range merges {
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, s := range srcs {
			v, err := c.value(s, depth)
			if err != nil {
				return nil, err
			}
			mv, ok := v.(map[string]any)
			if !ok {
				return nil, &decodeError{line: s.Line, rule: RuleYAMLSyntax, msg: "merge key (<<) needs a mapping"}
			}
			for k, val := range mv {
				if _, set := out[k]; !set {
					out[k] = val
				}
			}
		}
	}
	return out, nil
}

// scalar resolves a scalar the way YAML 1.2 core schema (and Kubernetes) does, returning
// JSON-compatible types.
func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, &decodeError{line: n.Line, rule: RuleYAMLSyntax, msg: err.Error()}
		}
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case uint64:
			if x <= math.MaxInt64 {
				return int64(x), nil
			}
			return float64(x), nil
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, &decodeError{line: n.Line, rule: RuleYAMLSyntax,
					msg: fmt.Sprintf("%s cannot be represented in JSON", n.Value), hint: "quote it if it is meant as a string"}
			}
			return x, nil
		default:
			return v, nil
		}
	}
	// Unknown local tags (!Ref and the like) are kept as their text.
	return n.Value, nil
}
