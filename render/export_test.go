package render

// For the benchmarks of package render_test, which render through the sandbox and so
// cannot live in package render (the sandbox imports it).
var (
	HelmMany = helmMany
)
