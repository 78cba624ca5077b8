package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Source is where config values come from: Pulumi's config in a program, a map in tests.
type Source interface {
	// Get returns the raw value of a full key ("seldon-ab:metallb"); objects arrive as JSON text.
	Get(key string) (string, bool)
	// IsSecret reports whether the key was set with --secret.
	IsSecret(key string) bool
	// Keys lists every key the stack file sets, when known, so misspelt top-level keys are caught.
	Keys() []string
}

// Secret config keys (top level, so `pulumi config set --secret <key>` sets them).
const (
	AccessKeyKey = "modelStoreAccessKey"
	SecretKeyKey = "modelStoreSecretKey"
)

// The two keys experiments can be set under: a list, or one experiment on its own (the field setup's shape).
const (
	singleExperimentKey = "experiment"
	experimentListKey   = "experiments"
)

// objectKeys maps each top-level object key to the part of the Stack it fills; single receives the `experiment` key.
func objectKeys(s *Stack, single **Experiment) map[string]any {
	return map[string]any{
		"cluster":           &s.Cluster,
		"charts":            &s.Charts,
		"metallb":           &s.MetalLB,
		"ingress":           &s.Ingress,
		"modelStore":        &s.ModelStore,
		"seldon":            &s.Seldon,
		"models":            &s.Models,
		singleExperimentKey: single,
		experimentListKey:   &s.Experiments,
		"verification":      &s.Verification,
		"commands":          &s.Commands,
	}
}

// Options tell Load what it cannot find in the config itself.
type Options struct {
	StackName string
	// BaseDir resolves relative paths in the config (chart archives, seed directories): the project root.
	BaseDir string
}

// Load reads, defaults and validates a whole stack. On any problem it returns Errors listing all of them.
func Load(src Source, opts Options) (*Stack, error) {
	stack := Defaults(opts.StackName)
	var errs Errors
	var single *Experiment
	targets := objectKeys(&stack, &single)
	for _, key := range sortedKeys(targets) {
		raw, ok := src.Get(Namespace + ":" + key)
		if !ok {
			continue
		}
		errs = append(errs, decodeStrict(key, raw, targets[key])...)
	}
	errs = append(errs, oneExperimentKey(&stack, single)...)
	errs = append(errs, unknownTopLevelKeys(src.Keys(), targets)...)
	stack.Credentials, errs = readCredentials(src, opts.StackName, errs)
	normalizeSeldon(&stack)
	normalizeIngress(&stack.Ingress)
	// Sections with shape problems still decoded what they could: validate anyway, so one run shows everything.
	errs = append(errs, Validate(&stack, opts.BaseDir)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return &stack, nil
}

// oneExperimentKey takes the experiments from whichever of the two keys the stack sets, and refuses both: which
// one was meant cannot be guessed.
func oneExperimentKey(s *Stack, single *Experiment) Errors {
	s.experimentKey = experimentListKey
	if single == nil {
		return nil
	}
	if len(s.Experiments) > 0 {
		return Errors{NewFieldError(singleExperimentKey, single.Name, "is set beside "+experimentListKey+", so one of them would be ignored",
			"move it into the "+experimentListKey+" list and remove the "+singleExperimentKey+" key")}
	}
	s.Experiments, s.experimentKey = []Experiment{*single}, singleExperimentKey
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func unknownTopLevelKeys(keys []string, targets map[string]any) Errors {
	var errs Errors
	known := append(sortedKeys(targets), AccessKeyKey, SecretKeyKey)
	for _, full := range keys {
		key, inProject := strings.CutPrefix(full, Namespace+":")
		if !inProject || slices.Contains(known, key) {
			continue
		}
		errs = append(errs, NewFieldError(key, "", "is not a setting of this project", suggest(key, known)))
	}
	return errs
}

func readCredentials(src Source, stackName string, errs Errors) (Credentials, Errors) {
	read := func(key, example string) Secret {
		full := Namespace + ":" + key
		value, ok := src.Get(full)
		setCmd := fmt.Sprintf("pulumi config set --secret %s %s --stack %s", key, example, stackName)
		switch {
		case !ok || value == "":
			errs = append(errs, NewFieldError(key, "", "is required (model store credentials)", "set it as a secret: "+setCmd))
		case !src.IsSecret(full):
			// The value is deliberately not echoed: it is a credential sitting in plain text.
			errs = append(errs, NewFieldError(key, "", "is stored in plain text in the stack file",
				fmt.Sprintf("remove it (pulumi config rm %s --stack %s) and set it as a secret: %s", key, stackName, setCmd)))
		}
		return NewSecret(value)
	}
	creds := Credentials{
		AccessKey: read(AccessKeyKey, "<access-key>"),
		SecretKey: read(SecretKeyKey, "<secret-key>"),
	}
	return creds, errs
}

// decodeStrict fills target from JSON, reporting unknown keys by their full path and type mismatches by key.
func decodeStrict(key, raw string, target any) Errors {
	var generic any
	if err := json.Unmarshal([]byte(raw), &generic); err != nil {
		return Errors{NewFieldError(key, raw, "is not a structured value",
			"write it as a YAML mapping under config: in the stack file, or use pulumi config set --path")}
	}
	errs := unknownFields(key, generic, reflect.TypeOf(target).Elem())
	if err := json.Unmarshal([]byte(raw), target); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			path := key
			if typeErr.Field != "" {
				path += "." + typeErr.Field
			}
			errs = append(errs, NewFieldError(path, typeErr.Value, "has the wrong type", "give a "+describeType(typeErr.Type)))
		} else {
			errs = append(errs, NewFieldError(key, "", "could not be read: "+err.Error(), ""))
		}
	}
	return errs
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "whole number"
	case reflect.Slice:
		return "list"
	case reflect.Struct, reflect.Map:
		return "mapping"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return t.String()
}

// unknownFields walks a decoded JSON value against the Go type it will fill and reports keys the type lacks.
func unknownFields(path string, value any, t reflect.Type) Errors {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var errs Errors
	switch v := value.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = t.Field(i).Type
			}
		}
		for _, k := range sortedKeys(v) {
			ft, ok := fields[k]
			if !ok {
				errs = append(errs, NewFieldError(path+"."+k, "", "is not a known key", suggest(k, sortedKeys(fields))))
				continue
			}
			errs = append(errs, unknownFields(path+"."+k, v[k], ft)...)
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return nil
		}
		for i, item := range v {
			errs = append(errs, unknownFields(fmt.Sprintf("%s[%d]", path, i), item, t.Elem())...)
		}
	}
	return errs
}

// suggest names the closest known key, and lists them all.
func suggest(key string, known []string) string {
	best, bestDistance := "", 4
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestDistance {
			best, bestDistance = k, d
		}
	}
	list := "known keys: " + strings.Join(known, ", ")
	if best != "" {
		return fmt.Sprintf("did you mean %q? (%s)", best, list)
	}
	return list
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
