package main

import "testing"

func TestFailureKindsCountWhatTheCallsGotMostFirst(t *testing.T) {
	got := failureKinds(map[string]int{
		"HTTP 404 from the ingress controller": 7265,
		`Post "http://192.168.1.249/v2/models/m/infer": dial tcp 192.168.1.249:80: sandbox network: dial tcp 192.168.1.249:80: i/o timeout (no Service has this ClusterIP)`: 30,
		`Post "http://192.168.1.249/v2/models/m/infer": dial tcp 192.168.1.249:80: i/o timeout`:                                                                             2,
		`Post "http://192.168.1.249/v2/models/m/infer": EOF`:                                                                                                                2,
	})
	if want := "7265× HTTP 404 from the ingress controller, 32× no answer, 2× connection closed"; got != want {
		t.Errorf("failureKinds = %q, want %q", got, want)
	}
}
