package clustertemplate

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/openstrap/openstrap/bootstrap"
)

//go:embed cluster-template.yaml
var template []byte

// Template returns the cluster template: multi-document YAML with
// clusterctl-style variables (see Vars for their names). Each call returns
// a fresh copy the caller may edit.
func Template() []byte { return bytes.Clone(template) }

// Render substitutes vars into template (this package's Template, or a
// user's edited copy) with bootstrap.Substitute, the substitution
// bootstrap.Install applies. A variable that has neither a value nor a
// default makes it fail with a *bootstrap.MissingVariablesError naming
// every such variable. The result holds the credentials vars carry.
func Render(template []byte, vars map[string]string) ([]byte, error) {
	out, err := bootstrap.Substitute(template, vars)
	if err != nil {
		return nil, fmt.Errorf("render cluster template: %w", err)
	}
	return out, nil
}

// Render renders this package's Template with v's variables, after
// checking v with Validate.
func (v Values) Render() ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return Render(template, v.Vars())
}

// Decode decodes a rendered template into typed objects, in document
// order: core Kubernetes kinds, Cluster API's (v1beta2) and openstrap's
// infrastructure kinds (the scheme of bootstrap.NewControllersScheme).
// Decoding is strict: an unknown kind, an unknown or duplicate field, or a
// document without apiVersion and kind is an error naming the document.
// Empty documents are skipped. Errors never quote the document's content.
func Decode(manifest []byte) ([]client.Object, error) {
	scheme, err := bootstrap.NewControllersScheme()
	if err != nil {
		return nil, err
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	var objs []client.Object
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, gvk, err := dec.Decode(doc, nil, nil)
		if err != nil {
			var tm metav1.TypeMeta
			_ = yaml.Unmarshal(doc, &tm) // the kind, for the message, if it has one
			what := "document " + fmt.Sprint(i)
			if tm.Kind != "" {
				what += " (" + tm.Kind + ")"
			}
			return nil, fmt.Errorf("decode %s: %w", what, decodeError(err, tm.Kind))
		}
		co, ok := obj.(client.Object)
		if !ok {
			return nil, fmt.Errorf("decode document %d: %s is not an object with metadata", i, gvk)
		}
		objs = append(objs, co)
	}
}

// stripComments drops the lines of doc that hold only a comment.
func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '#' {
			continue
		}
		out = append(out, line...)
	}
	return out
}

// decodeError keeps what locates a decoding error (strict decoding's field
// paths, a missing or unknown kind, any error of a kind other than Secret)
// and drops, for a Secret or a document of unknown kind, what could quote
// a value of it.
func decodeError(err error, kind string) error {
	switch {
	case runtime.IsStrictDecodingError(err), runtime.IsMissingKind(err), runtime.IsMissingVersion(err), runtime.IsNotRegisteredError(err):
		return err // field paths and kinds, never values
	case kind != "" && kind != "Secret":
		return err
	}
	return errors.New("not valid YAML or not of the kind's schema (details withheld: the document may hold credentials)")
}
