// Package config loads and validates repos.yaml, the one file that says who may reach which
// repository, which branch deploys to which cluster, and how.
//
// Every problem is reported with the file, the line and the dotted key it concerns, and all
// problems of a file are reported at once. Unknown keys, references to users, clusters,
// policies or tests that are not defined, and values of the wrong shape are errors: a
// configuration that loads is one the daemon can run.
package config
