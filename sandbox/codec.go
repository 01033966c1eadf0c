package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The rendered objects cross from the render process to the daemon in a codec of this
// package's own, for the closed set of types that unstructured content holds (what the
// YAML decoding of package render produces): map[string]any, []any, string, int64, float64,
// bool and nil. Kubernetes' CBOR (k8s.io/apimachinery's serializer/cbor/direct) does the job
// too, through reflection: it took 48 ms to encode and decode 1,000 Deployments, about as
// long as rendering them; this codec takes 16 ms (BenchmarkCodec, BenchmarkCodecCBOR).

const (
	tagNil byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
	tagMap
	tagSlice
)

// maxDepth bounds the nesting the decoder follows (render.DefaultMaxDepth is 100).
const maxDepth = 10_000

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, tagNil), nil
	case bool:
		if v {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt), v), nil
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(v)), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat), math.Float64bits(v)), nil
	case string:
		b = binary.AppendUvarint(append(b, tagString), uint64(len(v)))
		return append(b, v...), nil
	case map[string]any:
		b = binary.AppendUvarint(append(b, tagMap), uint64(len(v)))
		for k, e := range v {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			var err error
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	case []any:
		b = binary.AppendUvarint(append(b, tagSlice), uint64(len(v)))
		for _, e := range v {
			var err error
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("a value of type %T in a rendered object", v)
}

// encodeObjects encodes the contents of rendered objects.
func encodeObjects(objs []map[string]any) ([]byte, error) {
	b := binary.AppendUvarint(nil, uint64(len(objs)))
	for _, o := range objs {
		var err error
		if b, err = appendValue(b, o); err != nil {
			return nil, err
		}
	}
	return b, nil
}

var errCorrupt = errors.New("corrupt object encoding")

type decoder struct {
	b    []byte
	keys map[string]string // map keys repeat across objects: one string each
}

func (d *decoder) uvarint() (uint64, error) {
	n, w := binary.Uvarint(d.b)
	if w <= 0 {
		return 0, errCorrupt
	}
	d.b = d.b[w:]
	return n, nil
}

func (d *decoder) bytes() ([]byte, error) {
	n, err := d.uvarint()
	if err != nil || n > uint64(len(d.b)) {
		return nil, errCorrupt
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s, nil
}

func (d *decoder) value(depth int) (any, error) {
	if len(d.b) == 0 || depth > maxDepth {
		return nil, errCorrupt
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case tagNil:
		return nil, nil
	case tagFalse:
		return false, nil
	case tagTrue:
		return true, nil
	case tagInt:
		v, w := binary.Varint(d.b)
		if w <= 0 {
			return nil, errCorrupt
		}
		d.b = d.b[w:]
		return v, nil
	case tagFloat:
		if len(d.b) < 8 {
			return nil, errCorrupt
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return v, nil
	case tagString:
		s, err := d.bytes()
		return string(s), err
	case tagMap:
		n, err := d.uvarint()
		if err != nil || n > uint64(len(d.b)) {
			return nil, errCorrupt
		}
		m := make(map[string]any, n)
		for range n {
			kb, err := d.bytes()
			if err != nil {
				return nil, err
			}
			k, ok := d.keys[string(kb)]
			if !ok {
				k = string(kb)
				d.keys[k] = k
			}
			if m[k], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return m, nil
	case tagSlice:
		n, err := d.uvarint()
		if err != nil || n > uint64(len(d.b)) {
			return nil, errCorrupt
		}
		s := make([]any, n)
		for i := range s {
			if s[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	return nil, errCorrupt
}

// decodeObjects decodes what encodeObjects encoded.
func decodeObjects(b []byte) ([]map[string]any, error) {
	d := &decoder{b: b, keys: map[string]string{}}
	n, err := d.uvarint()
	if err != nil || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	objs := make([]map[string]any, n)
	for i := range objs {
		v, err := d.value(0)
		if err != nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errCorrupt
		}
		objs[i] = m
	}
	if len(d.b) != 0 {
		return nil, errCorrupt
	}
	return objs, nil
}
