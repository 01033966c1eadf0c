package secrets

import "errors"

// Errors of Open, one per way a SOPS file is refused. Their text never holds a value.
var (
	// ErrMalformed: the file claims to be SOPS (it has sops metadata) but cannot be read as one.
	ErrMalformed = errors.New("not a valid SOPS file")
	// ErrRecipients: the file is not encrypted to any of the recipients it must be.
	ErrRecipients = errors.New("not encrypted to the environment's recipients")
	// ErrDecrypt: no identity given opens the file's data key.
	ErrDecrypt = errors.New("cannot be decrypted")
	// ErrTampered: a value fails authentication, or the MAC over the values does not verify.
	ErrTampered = errors.New("fails its integrity check (MAC): it was changed after it was encrypted")
	// ErrUnsupported: key groups (Shamir secret sharing) are not supported.
	ErrUnsupported = errors.New("uses SOPS key groups (shamir_threshold), which gitopsd does not support")
)
