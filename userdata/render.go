package userdata

import "fmt"

// Output is rendered user data and what it took to produce it.
type Output struct {
	// Data is the user data to hand to Nova (the machines service base64-encodes it).
	Data []byte
	// Format is the format Data is in.
	Format Format
	// Role is what the machine will do.
	Role Role
	// Gzipped tells whether Data is gzip-compressed (cloud-init) or whether the
	// file contents inside it are (Ignition).
	Gzipped bool
	// RawSize is the size before compression.
	RawSize int
	// Base64Size is Base64Size(Data), the size Nova checks against NovaUserDataLimit.
	Base64Size int
}

// String describes the output without its content (which holds secrets).
func (o Output) String() string {
	return fmt.Sprintf("Output{%s %s, %d bytes raw, %d bytes base64, gzipped=%t}", o.Format, o.Role, o.RawSize, o.Base64Size, o.Gzipped)
}

// Render validates spec and renders the machine's user data. Errors for bad input
// are *FieldError naming the field (errors.Is(err, ErrInvalidSpec)); data that
// cannot fit Nova's limit is a *TooLargeError. It never logs.
func Render(spec Spec) ([]byte, error) {
	out, err := RenderOutput(spec)
	if err != nil {
		return nil, err
	}
	return out.Data, nil
}

// RenderOutput is Render that also reports format, sizes and compression.
func RenderOutput(spec Spec) (*Output, error) {
	if spec == nil {
		return nil, fieldErr("Spec", "required")
	}
	p, err := spec.plan()
	if err != nil {
		return nil, err
	}
	return renderPlan(p)
}

func renderPlan(p *plan) (*Output, error) {
	format := p.machine.Format
	if format == "" {
		format = CloudInit
	}
	out := &Output{Format: format, Role: p.role}
	var raw []byte
	var err error
	switch format {
	case Ignition:
		raw, err = renderIgnition(p, p.machine.Compression == GzipAlways)
		if err != nil {
			return nil, err
		}
		out.RawSize = len(raw)
		out.Data, out.Gzipped = raw, p.machine.Compression == GzipAlways
		if p.machine.Compression == GzipIfNeeded && CheckSize(raw) != nil {
			if out.Data, err = renderIgnition(p, true); err != nil {
				return nil, err
			}
			out.Gzipped = true
		}
	default:
		raw, err = renderCloudInit(p)
		if err != nil {
			return nil, err
		}
		out.RawSize = len(raw)
		out.Data = raw
		if p.machine.Compression == GzipAlways || p.machine.Compression == GzipIfNeeded && CheckSize(raw) != nil {
			out.Data, out.Gzipped = gzipBytes(raw), true
		}
	}
	out.Base64Size = Base64Size(out.Data)
	if n := out.Base64Size; n > NovaUserDataLimit {
		return nil, &TooLargeError{Size: n, Limit: NovaUserDataLimit, Compressed: out.Gzipped}
	}
	return out, nil
}

// Validate checks spec as Render would (including the kubeadm API version and
// that the kubeadm configuration can be expressed in it) without producing output.
func Validate(spec Spec) error {
	if spec == nil {
		return fieldErr("Spec", "required")
	}
	_, err := spec.plan()
	return err
}
