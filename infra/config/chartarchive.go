package config

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// InspectChartArchive reads the name and version of the chart packed in a .tgz (its top-level <dir>/Chart.yaml),
// so a local archive is held to the same pin as a repository chart.
func InspectChartArchive(path string) (name, version string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", "", fmt.Errorf("not gzip: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		header, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", "", errors.New("no Chart.yaml at the top of the archive")
		}
		if err != nil {
			return "", "", fmt.Errorf("not a tar archive: %w", err)
		}
		parts := strings.Split(strings.TrimPrefix(header.Name, "./"), "/")
		if len(parts) != 2 || parts[1] != "Chart.yaml" {
			continue
		}
		var meta struct {
			Name    string `yaml:"name"`
			Version string `yaml:"version"`
		}
		if err := yaml.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&meta); err != nil {
			return "", "", fmt.Errorf("Chart.yaml: %w", err)
		}
		return meta.Name, meta.Version, nil
	}
}
