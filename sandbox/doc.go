// Package sandbox renders an environment's manifests in a child process of the daemon, so
// that a runaway template can be stopped for real.
//
// A Go template cannot be interrupted and Go cannot bound the memory of one goroutine: a
// Helm chart that doubles a string in a loop, or recurses through tpl, took the whole daemon
// down when it rendered in process. Here each render runs in a fresh process (the same
// executable, started in render mode by Main) with hard limits on its data segment
// (setrlimit RLIMIT_DATA) and CPU time (RLIMIT_CPU), killed at its deadline. A render that
// hits a limit is a clear refusal of that push, and nothing of it outlives the render.
//
// The child gets no environment (no HOME, no PATH, no credentials), a network namespace of
// its own where the kernel allows one, and no files: it reads the pushed tree through a
// socket from the parent, which serves only that tree and bounds what it serves. Results come
// back on the child's stdout. One child is kept started ahead of need, so a render does not
// wait for a process to start.
package sandbox
