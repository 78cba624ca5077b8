package config

import (
	"encoding/json"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// FileSource reads a stack file as the engine presents it to the program, without decrypting anything: a
// `secure:` value reads as its ciphertext and counts as a secret. Enough for every setting but the credentials'
// content, so commands that never deploy (doctor) need no passphrase.
type FileSource struct {
	values  map[string]string
	secrets map[string]bool
}

// ReadStackFile reads the `config:` map of a stack file.
func ReadStackFile(path string) (FileSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return FileSource{}, err
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return FileSource{}, fmt.Errorf("%s: %w", path, err)
	}
	src := FileSource{values: map[string]string{}, secrets: map[string]bool{}}
	for key, value := range file.Config {
		if m, ok := value.(map[string]any); ok && len(m) == 1 && m["secure"] != nil {
			src.values[key], src.secrets[key] = fmt.Sprint(m["secure"]), true
			continue
		}
		if s, ok := value.(string); ok {
			src.values[key] = s
			continue
		}
		text, err := json.Marshal(value)
		if err != nil {
			return FileSource{}, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		src.values[key] = string(text)
	}
	return src, nil
}

// Get implements Source.
func (f FileSource) Get(key string) (string, bool) {
	v, ok := f.values[key]
	return v, ok
}

// IsSecret implements Source.
func (f FileSource) IsSecret(key string) bool { return f.secrets[key] }

// Keys implements Source.
func (f FileSource) Keys() []string { return sortedKeys(f.values) }

// StackFileKeys lists the config keys a stack file sets; nil when there is no readable file.
func StackFileKeys(path string) []string {
	src, err := ReadStackFile(path)
	if err != nil {
		return nil
	}
	return src.Keys()
}
