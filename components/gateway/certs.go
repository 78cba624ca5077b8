package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Secret names the chart's values default to (certGenerator.serverTLSSecretName, agentTLSSecretName).
const (
	ServerTLSSecret = "server-tls"
	AgentTLSSecret  = "agent-tls"
)

// certValidity is long: the Secrets are made once and kept (their data is ignored on later updates), so a short
// life would break a stack that simply stayed up.
const certValidity = 10 * 365 * 24 * time.Hour

// tlsSecrets makes what NGF's cert generator would (cmd/gateway/certs.go, generateCertificates): one CA signing a
// server certificate for the control plane's Service (<fullname>.<namespace>.svc, which nginx-agent dials) and a
// client certificate for nginx-agent (*.cluster.local), both kubernetes.io/tls Secrets with ca.crt, tls.crt and
// tls.key. They are generated on the first update; later updates ignore their data, so previews stay clean and
// the certificates stay the ones both sides hold.
func tlsSecrets(ctx *pulumi.Context, name, namespace string, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	bundle, err := newCertBundle(ReleaseName+"."+namespace+".svc", "*.cluster.local")
	if err != nil {
		return nil, err
	}
	var out []pulumi.Resource
	for _, s := range []struct {
		secret string
		pair   keyPair
	}{{ServerTLSSecret, bundle.server}, {AgentTLSSecret, bundle.client}} {
		secret, err := corev1.NewSecret(ctx, name+"-"+s.secret, &corev1.SecretArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(s.secret), Namespace: pulumi.String(namespace)},
			Type:     pulumi.String("kubernetes.io/tls"),
			StringData: pulumi.ToSecret(pulumi.StringMap{
				"ca.crt": pulumi.String(bundle.caCert), "tls.crt": pulumi.String(s.pair.cert), "tls.key": pulumi.String(s.pair.key),
			}).(pulumi.StringMapOutput),
		}, append(opts, pulumi.IgnoreChanges([]string{"stringData", "data"}))...)
		if err != nil {
			return nil, err
		}
		out = append(out, secret)
	}
	return out, nil
}

type keyPair struct{ cert, key string }

type certBundle struct {
	caCert         string
	server, client keyPair
}

func newCertBundle(serverName, clientName string) (certBundle, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return certBundle{}, err
	}
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nginx-gateway-fabric-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(certValidity),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return certBundle{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return certBundle{}, err
	}
	leaf := func(serial int64, dnsName string) (keyPair, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return keyPair{}, err
		}
		template := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(certValidity), KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
		if err != nil {
			return keyPair{}, err
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return keyPair{}, err
		}
		return keyPair{cert: pemOf("CERTIFICATE", der), key: pemOf("EC PRIVATE KEY", keyDER)}, nil
	}
	b := certBundle{caCert: pemOf("CERTIFICATE", caDER)}
	if b.server, err = leaf(2, serverName); err != nil {
		return certBundle{}, err
	}
	if b.client, err = leaf(3, clientName); err != nil {
		return certBundle{}, err
	}
	return b, nil
}

func pemOf(kind string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}
