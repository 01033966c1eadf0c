package render_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/gitopsd/gitopsd/render"
)

// In pre-receive the file system is the pushed commit:
//
//	tree, err := gittree.Open(repoDir, newSHA, gittree.Options{ObjectDirs: gittree.ObjectDirsFromEnv(env)})
//	res, err := render.Render(ctx, tree, opts)
func ExampleRender() {
	fsys := fstest.MapFS{
		"deploy/app.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n---\napiVersion: v1\nkind: Service\nmetadata: {}\n")},
	}
	res, err := render.Render(context.Background(), fsys, render.Options{Path: "deploy", DefaultNamespace: "shop"})
	if err != nil {
		panic(err)
	}
	for _, o := range res.Objects {
		fmt.Println(render.ObjectName(o.Unstructured), "from", o.Source)
	}
	for _, p := range res.Problems {
		fmt.Println(p, "-", p.Hint)
	}
	// Output:
	// ConfigMap/shop/settings from deploy/app.yaml:1
	// deploy/app.yaml:6: Service/?: missing metadata.name [missing-field] - every object needs apiVersion, kind and metadata.name
}
