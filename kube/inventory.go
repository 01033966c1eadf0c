package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// InventoryNamespace holds every environment's inventory in a target cluster. Keeping it
// in the cluster, not in the daemon's data directory, lets a fresh daemon, or a second
// one, know what an environment owns.
const InventoryNamespace = "gitopsd-system"

// inventoryKey is the ConfigMap key of the object list: one canonical ID per line.
const inventoryKey = "objects"

var (
	configMapsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	namespacesGVR  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	inventoryField = "gitopsd-inventory"
)

// Inventory is the set of objects an environment owns, sorted and without duplicates.
// Its functions are pure; ReadInventory and WriteInventory keep it in the cluster.
type Inventory struct {
	IDs []ObjectID
}

// NewInventory returns the inventory of ids.
func NewInventory(ids ...ObjectID) Inventory {
	seen := make(map[ObjectID]bool, len(ids))
	out := make([]ObjectID, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	SortIDs(out)
	return Inventory{IDs: out}
}

// InventoryOf returns the IDs of a change set's objects, failed ones included: an object
// that is in git but failed to apply is still owned, and must not be pruned.
func InventoryOf(cs *ChangeSet) Inventory {
	ids := make([]ObjectID, 0, len(cs.Changes))
	for _, c := range cs.Changes {
		if c.ID.Kind != "" && c.ID.Name != "" {
			ids = append(ids, c.ID)
		}
	}
	return NewInventory(ids...)
}

// Contains says whether id is in the inventory.
func (inv Inventory) Contains(id ObjectID) bool {
	i := sort.Search(len(inv.IDs), func(i int) bool { return !idLess(inv.IDs[i], id) })
	return i < len(inv.IDs) && inv.IDs[i] == id
}

// Union is every ID of inv and other: after a prune that partly failed, the caller keeps
// the failed IDs in the stored inventory so the next run retries them.
func (inv Inventory) Union(other Inventory) Inventory {
	return NewInventory(append(append([]ObjectID{}, inv.IDs...), other.IDs...)...)
}

// Stale returns the IDs of old that are not in current: what to prune.
func Stale(old, current Inventory) []ObjectID {
	var out []ObjectID
	for _, id := range old.IDs {
		if !current.Contains(id) {
			out = append(out, id)
		}
	}
	return out
}

// Encode is the stored form: one canonical ID per line.
func (inv Inventory) Encode() string {
	var b strings.Builder
	for _, id := range inv.IDs {
		b.WriteString(id.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// DecodeInventory reads Encode's form.
func DecodeInventory(s string) (Inventory, error) {
	var ids []ObjectID
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		id, err := ParseObjectID(line)
		if err != nil {
			return Inventory{}, fmt.Errorf("inventory line %d: %w", i+1, err)
		}
		ids = append(ids, id)
	}
	return NewInventory(ids...), nil
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// InventoryName is the ConfigMap that holds owner's inventory: "inventory-<repo>-<env>",
// made a valid name (hashed when it had to change, so owners never collide).
func InventoryName(o Owner) string {
	return "inventory-" + sanitize(o.Repo+"-"+o.Env, nameUnsafe, 200, true)
}

// ReadInventory returns owner's stored inventory; found is false if there is none yet.
func (c *Client) ReadInventory(ctx context.Context, o Owner) (inv Inventory, found bool, err error) {
	cm, err := c.inv.Resource(configMapsGVR).Namespace(InventoryNamespace).Get(ctx, InventoryName(o), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Inventory{}, false, nil
	}
	if err != nil {
		return Inventory{}, false, fmt.Errorf("read inventory %s/%s: %w", InventoryNamespace, InventoryName(o), err)
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", inventoryKey)
	inv, err = DecodeInventory(data)
	if err != nil {
		return Inventory{}, true, fmt.Errorf("read inventory %s/%s: %w", InventoryNamespace, InventoryName(o), err)
	}
	return inv, true, nil
}

// WriteInventory stores inv as owner's inventory, creating the namespace and ConfigMap if
// missing.
func (c *Client) WriteInventory(ctx context.Context, o Owner, inv Inventory) error {
	force := true
	po := metav1.PatchOptions{FieldManager: inventoryField, Force: &force}
	ns := map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": InventoryNamespace},
	}
	if err := c.applyRaw(ctx, namespacesGVR, "", InventoryNamespace, ns, po); err != nil {
		return fmt.Errorf("write inventory: namespace %s: %w", InventoryNamespace, err)
	}
	cm := map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{
			"name": InventoryName(o), "namespace": InventoryNamespace,
			"labels":      map[string]any{"app.kubernetes.io/managed-by": "gitopsd", OwnerLabel: o.LabelValue()},
			"annotations": map[string]any{RepoAnnotation: o.Repo, EnvAnnotation: o.Env},
		},
		"data": map[string]any{inventoryKey: inv.Encode()},
	}
	if err := c.applyRaw(ctx, configMapsGVR, InventoryNamespace, InventoryName(o), cm, po); err != nil {
		return fmt.Errorf("write inventory %s/%s: %w", InventoryNamespace, InventoryName(o), err)
	}
	return nil
}

func (c *Client) applyRaw(ctx context.Context, gvr schema.GroupVersionResource, ns, name string, obj map[string]any, po metav1.PatchOptions) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	ri := c.inv.Resource(gvr)
	if ns != "" {
		_, err = ri.Namespace(ns).Patch(ctx, name, types.ApplyPatchType, data, po)
	} else {
		_, err = ri.Patch(ctx, name, types.ApplyPatchType, data, po)
	}
	return err
}
