package gittree

import "errors"

var (
	// ErrSymlinkEscape is returned for a symlink whose target is absolute or leaves the tree.
	ErrSymlinkEscape = errors.New("symlink points outside the repository")
	// ErrSymlinkLoop is returned when resolving a path follows too many symlinks.
	ErrSymlinkLoop = errors.New("too many levels of symlinks")
	// ErrSubmodule is returned when a submodule (gitlink) is read: its content is in another
	// repository, which gitopsd does not fetch.
	ErrSubmodule = errors.New("submodules are not supported")
	// ErrTooLarge is returned when a file or the sum of the files read exceeds a bound.
	ErrTooLarge = errors.New("too large")
)
