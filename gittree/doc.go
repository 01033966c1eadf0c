// Package gittree reads the tree of one commit of a bare repository in-process, as an
// io/fs.FS, so that the pre-receive hook can render exactly what was pushed before git
// makes it visible: objects of a push in progress still sit in git's quarantine directory,
// which is searched first, with the repository's own object store (and its alternates)
// behind it.
//
// The file system is read-only and bounded: a file larger than Options.MaxFileBytes, or
// reads adding up to more than Options.MaxBytes, fail with ErrTooLarge before the data is
// loaded. Symlinks are followed only while they stay inside the commit's tree; one that is
// absolute or climbs above the root fails with ErrSymlinkEscape naming the link.
// Submodules (gitlinks) have no content in the repository and fail with ErrSubmodule.
package gittree
