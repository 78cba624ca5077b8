package seed_test

import (
	"testing"

	"github.com/seldon-ab/provisioner/components/modelstore"
	"github.com/seldon-ab/provisioner/internal/seed"
)

// The seed command line the program builds reads back into the same directory and target.
func TestSeedArgumentsRoundTrip(t *testing.T) {
	dir := modelstore.SeedDirectory{Source: "/home/me/models/it's $(x)", Bucket: "mlflow-artifacts", Prefix: "baseline-predictor"}
	argv := modelstore.SeedArgv(dir, "https://s3.eu-west-1.amazonaws.com", "eu-west-1")
	if argv[0] != "seed" {
		t.Fatalf("argv starts with %q", argv[0])
	}
	got, err := seed.ParseArgs(argv[1:])
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != dir.Source || got.Target.Bucket != dir.Bucket || got.Target.Prefix != dir.Prefix ||
		got.Target.Endpoint != "https://s3.eu-west-1.amazonaws.com" || got.Target.Region != "eu-west-1" {
		t.Errorf("parsed %+v from %q", got, argv)
	}
	if _, err := seed.ParseArgs([]string{"--source", "x"}); err == nil {
		t.Error("a command line without --endpoint and --bucket was accepted")
	}
}
