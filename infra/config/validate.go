package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/seldon-ab/provisioner/internal/iprange"
)

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	exactVersion = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	quantity     = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][0-9]+)?$`)
	bucketName   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	rcloneName   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_. -]*$`)
)

type validator struct {
	errs    Errors
	baseDir string
}

func (v *validator) add(key, value, problem, fix string) {
	v.errs = append(v.errs, NewFieldError(key, value, problem, fix))
}

// Validate checks a defaulted stack as a whole and returns every problem; relative paths resolve against baseDir.
func Validate(s *Stack, baseDir string) Errors {
	v := &validator{baseDir: baseDir}
	v.cluster(s.Cluster)
	v.chart("charts.metallb", MetalLBChartName, s.Charts.MetalLB)
	if s.Ingress.Controller == ControllerGatewayFabric {
		v.chart("charts.nginxGatewayFabric", NginxGatewayFabricChartName, s.Charts.NginxGatewayFabric)
		v.manifest("charts.gatewayAPI", s.Charts.GatewayAPI)
	} else {
		v.chart("charts.ingressNginx", IngressNginxChartName, s.Charts.IngressNginx)
	}
	if s.ModelStore.Type == StoreMinIO {
		v.chart("charts.minio", MinIOChartName, s.Charts.MinIO)
	}
	v.chart("charts.seldonCrds", SeldonCRDsChartName, s.Charts.SeldonCRDs)
	v.chart("charts.seldonSetup", SeldonSetupChartName, s.Charts.SeldonSetup)
	pools := v.metallb(s.MetalLB)
	v.ingress(s.Ingress)
	v.modelStore(s.ModelStore, s.Credentials)
	v.fixedIPs(s, pools)
	v.seldon(s)
	return v.errs
}

func (v *validator) label(key, value string) {
	if len(value) > 63 || !dnsLabel.MatchString(value) {
		v.add(key, value, "is not a valid Kubernetes name (DNS-1123 label)",
			"use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit")
	}
}

func (v *validator) cluster(c Cluster) {
	if c.Kubeconfig != "" {
		if _, err := os.Stat(ResolvePath(v.baseDir, c.Kubeconfig)); err != nil {
			v.add("cluster.kubeconfig", c.Kubeconfig, "does not name a readable file",
				"give the path (relative to the project root) of the cluster's kubeconfig, or leave it empty for "+
					"$KUBECONFIG or ~/.kube/config; for the sandbox, start its cluster first: scripts/cluster.sh up")
		}
	}
	if c.Identifier == "" {
		v.add("cluster.identifier", "", "is empty", "name the cluster (any stable string, e.g. the stack name)")
	}
}

// expandHome turns a leading "~/" into the user's home directory.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

// StackFile is where a stack's config lives under the project root (Pulumi.yaml: stackConfigDir: stacks).
func StackFile(root, stack string) string {
	return filepath.Join(root, "stacks", StackFileName(stack))
}

// StackFileName is the file name Pulumi gives a stack's config.
func StackFileName(stack string) string { return "Pulumi." + stack + ".yaml" }

// FindProjectRoot returns the nearest directory at or above start that holds Pulumi.yaml.
func FindProjectRoot(start string) (string, error) {
	dir := start
	for {
		if _, err := os.Stat(filepath.Join(dir, "Pulumi.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no Pulumi.yaml at or above %s", start)
		}
		dir = parent
	}
}

// ResolvePath makes a config path absolute against the project root.
func ResolvePath(baseDir, path string) string {
	path = expandHome(path)
	if filepath.IsAbs(path) || baseDir == "" {
		return path
	}
	return filepath.Join(baseDir, path)
}

// manifest checks a pinned release manifest: an exact version, and a readable file or an http(s) URL naming it.
func (v *validator) manifest(key string, m Manifest) {
	if !exactVersion.MatchString(m.Version) {
		v.add(key+".version", m.Version, "is not an exact version", "pin the release, e.g. "+GatewayAPIVersion)
		return
	}
	if m.File != "" {
		if _, err := os.Stat(ResolvePath(v.baseDir, m.File)); err != nil {
			v.add(key+".file", m.File, "cannot be read: "+err.Error(),
				"give the path of the release's standard-install.yaml (scripts/toolchain.sh gateway-api writes one from the Go module), or set url instead")
		}
		return
	}
	u, err := url.Parse(m.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !strings.Contains(m.URL, m.Version) {
		v.add(key+".url", m.URL, "is not an http(s) URL of the pinned release "+m.Version,
			"use https://github.com/kubernetes-sigs/gateway-api/releases/download/"+m.Version+"/standard-install.yaml")
	}
}

func (v *validator) chart(key, name string, c Chart) {
	switch {
	case c.Version == "":
		v.add(key+".version", "", "is empty: every chart must be pinned", "give an exact version, e.g. the default")
		return
	case strings.EqualFold(c.Version, "latest") || !exactVersion.MatchString(c.Version):
		v.add(key+".version", c.Version, "is not an exact chart version",
			"pin an exact semantic version such as 1.2.3; ranges and 'latest' change under you between previews")
		return
	}
	if c.Archive != "" {
		path := ResolvePath(v.baseDir, c.Archive)
		gotName, gotVersion, err := InspectChartArchive(path)
		switch {
		case err != nil:
			v.add(key+".archive", c.Archive, "cannot be read as a chart archive: "+err.Error(),
				"give the path (relative to the project root) of a .tgz made by `helm package` or `helm pull`")
		case gotName != name || strings.TrimPrefix(gotVersion, "v") != strings.TrimPrefix(c.Version, "v"):
			v.add(key+".archive", c.Archive, fmt.Sprintf("holds chart %s %s, not the pinned %s %s", gotName, gotVersion, name, c.Version),
				fmt.Sprintf("point it at the %s-%s.tgz archive, or change %s.version", name, c.Version, key))
		}
		return
	}
	u, err := url.Parse(c.Repository)
	if c.Repository == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "oci") || u.Host == "" {
		v.add(key+".repository", c.Repository, "is not a chart repository URL",
			"give an https:// or oci:// repository, or set "+key+".archive to a local .tgz for an air-gapped cluster")
	}
}

func (v *validator) resources(key string, r Resources) {
	check := func(field, value string, required bool) {
		if value == "" {
			if required {
				v.add(key+"."+field, "", "is empty", "set it: every workload the stack defines has requests and a memory limit")
			}
			return
		}
		if !quantity.MatchString(value) {
			v.add(key+"."+field, value, "is not a Kubernetes quantity", "write e.g. 100m or 0.5 for cpu, 256Mi or 1Gi for memory")
		}
	}
	check("requests.cpu", r.Requests.CPU, true)
	check("requests.memory", r.Requests.Memory, true)
	check("limits.cpu", r.Limits.CPU, false)
	check("limits.memory", r.Limits.Memory, true)
}

func (v *validator) metallb(m MetalLB) []namedRange {
	v.label("metallb.namespace", m.Namespace)
	v.resources("metallb.controllerResources", m.Controller)
	v.resources("metallb.speakerResources", m.Speaker)
	if len(m.Pools) == 0 {
		v.add("metallb.pools", "", "is empty: MetalLB has no addresses to hand out",
			`declare a pool, e.g. [{name: lan, addresses: ["192.168.1.200-192.168.1.250"]}]`)
	}
	var all []namedRange
	seen := map[string]bool{}
	for i, p := range m.Pools {
		key := fmt.Sprintf("metallb.pools[%d]", i)
		v.label(key+".name", p.Name)
		if seen[p.Name] {
			v.add(key+".name", p.Name, "is declared twice", "give each pool its own name")
		}
		seen[p.Name] = true
		if len(p.Addresses) == 0 {
			v.add(key+".addresses", "", "is empty", "list CIDRs or ranges, e.g. 192.168.1.200-192.168.1.250")
		}
		for j, a := range p.Addresses {
			akey := fmt.Sprintf("%s.addresses[%d]", key, j)
			r, err := iprange.Parse(a)
			if err != nil {
				v.add(akey, a, "is not an address range: "+err.Error(),
					"write a CIDR (192.168.1.0/24) or an inclusive range (192.168.1.200-192.168.1.250)")
				continue
			}
			for _, other := range all {
				if r.Overlaps(other.Range) {
					v.add(akey, a, "overlaps "+other.key, "MetalLB refuses overlapping pools: make the ranges disjoint")
				}
			}
			all = append(all, namedRange{key: akey, pool: p.Name, Range: r})
		}
	}
	v.label("metallb.l2Advertisement.name", m.L2Advertisement.Name)
	for i, name := range m.L2Advertisement.Pools {
		if !seen[name] {
			v.add(fmt.Sprintf("metallb.l2Advertisement.pools[%d]", i), name, "is not a declared pool",
				"name one of metallb.pools[*].name, or leave the list empty to announce every pool")
		}
	}
	return all
}

func (v *validator) hostname(key, host string) {
	name := strings.TrimPrefix(host, "*.")
	valid := name != "" && len(name) <= 253
	for _, label := range strings.Split(name, ".") {
		valid = valid && len(label) <= 63 && dnsLabel.MatchString(label)
	}
	if !valid {
		v.add(key, host, "is not a valid host name",
			"use lower-case DNS labels separated by dots, e.g. financial-predictor.local (no scheme, port or path)")
	}
}

func (v *validator) ingress(in Ingress) {
	if in.Controller != ControllerIngressNginx && in.Controller != ControllerGatewayFabric {
		v.add("ingress.controller", in.Controller, "is not a controller this stack deploys",
			"write nginx-gateway-fabric (the maintained NGINX path, on the Gateway API) or ingress-nginx (retired upstream: no fixes since March 2026)")
	}
	v.label("ingress.namespace", in.Namespace)
	v.label("ingress.className", in.ClassName)
	v.resources("ingress.resources", in.Resources)
	if in.Replicas < 1 {
		v.add("ingress.replicas", fmt.Sprint(in.Replicas), "must be at least 1", "set 1 for a homelab, 2 for no downtime on upgrades")
	}
	if len(in.Hosts) == 0 {
		v.add("ingress.hosts", "", "is empty", "list the host names clients use, e.g. [financial-predictor.local]")
	}
	seen := map[string]bool{}
	for i, h := range in.Hosts {
		key := fmt.Sprintf("ingress.hosts[%d]", i)
		v.hostname(key, h)
		if seen[h] {
			v.add(key, h, "is listed twice", "list each host once")
		}
		seen[h] = true
	}
}

func (v *validator) image(key, ref string) {
	name, tag, hasTag := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	if strings.Contains(ref, "@sha256:") {
		return
	}
	if name == "" || !hasTag || tag == "" || tag == "latest" {
		v.add(key, ref, "is not a pinned image", "give an exact tag (repository:tag, not latest) or a digest (@sha256:...)")
	}
}

func (v *validator) modelStore(m ModelStore, creds Credentials) {
	switch m.Type {
	case StoreMinIO:
		v.label("modelStore.namespace", m.Namespace)
		v.resources("modelStore.resources", m.Resources)
		if !quantity.MatchString(m.Persistence.Size) {
			v.add("modelStore.persistence.size", m.Persistence.Size, "is not a storage quantity", "write e.g. 20Gi")
		}
		if m.Persistence.StorageClass != "" {
			v.label("modelStore.persistence.storageClass", m.Persistence.StorageClass)
		}
		if m.External.Endpoint != "" {
			v.add("modelStore.external.endpoint", m.External.Endpoint, "is set but modelStore.type is minio",
				"set modelStore.type: external to use it, or remove it")
		}
		// MinIO refuses to start with shorter root credentials; the values themselves are never shown.
		if creds.AccessKey.IsSet() && len(creds.AccessKey.Reveal()) < 3 {
			v.add(AccessKeyKey, "", "is shorter than 3 characters, which MinIO refuses",
				"set a longer one: pulumi config set --secret "+AccessKeyKey+" <access-key>")
		}
		if creds.SecretKey.IsSet() && len(creds.SecretKey.Reveal()) < 8 {
			v.add(SecretKeyKey, "", "is shorter than 8 characters, which MinIO refuses",
				"set a longer one: pulumi config set --secret "+SecretKeyKey+" <secret-key>")
		}
	case StoreExternal:
		u, err := url.Parse(m.External.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("modelStore.external.endpoint", m.External.Endpoint, "is not an S3 endpoint URL",
				"give the endpoint the cluster reaches, e.g. http://garage.storage:3900")
		}
		if m.Expose.IP != "" || m.Console.Expose {
			v.add("modelStore.expose", m.Expose.IP, "applies only to the in-cluster MinIO", "remove modelStore.expose and modelStore.console")
		}
	default:
		v.add("modelStore.type", m.Type, "is not a model store type", `use "minio" (in-cluster) or "external" (an S3 endpoint)`)
	}
	v.label("modelStore.namespace", m.Namespace)
	v.image("modelStore.rcloneImage", m.RcloneImage)
	v.resources("modelStore.bucketJobResources", m.BucketJobResources)
	if !rcloneName.MatchString(m.RcloneRemote) {
		v.add("modelStore.rcloneRemote", m.RcloneRemote, "is not an rclone remote name",
			"use letters, digits and '_' (Model storageUris then start with <name>://)")
	}
	if len(m.Buckets) == 0 {
		v.add("modelStore.buckets", "", "is empty", "list the bucket that holds the model artifacts, e.g. [mlflow-artifacts]")
	}
	for i, b := range m.Buckets {
		if !bucketName.MatchString(b) || strings.Contains(b, "..") {
			v.add(fmt.Sprintf("modelStore.buckets[%d]", i), b, "is not a valid S3 bucket name",
				"use 3-63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit")
		}
	}
	if m.Console.Expose && m.Console.IP == "" {
		v.add("modelStore.console.ip", "", "is empty but the console is exposed", "give it a fixed IP from a MetalLB pool")
	}
	for i, seed := range m.Seed {
		key := fmt.Sprintf("modelStore.seed[%d]", i)
		if info, err := os.Stat(ResolvePath(v.baseDir, seed.Source)); err != nil || !info.IsDir() {
			v.add(key+".source", seed.Source, "is not a directory", "give a directory of model artifacts, relative to the project root")
		}
		if !slices.Contains(m.Buckets, seed.Bucket) {
			v.add(key+".bucket", seed.Bucket, "is not one of modelStore.buckets", "add it to modelStore.buckets or fix the name")
		}
		if m.Type == StoreMinIO && m.Expose.IP == "" {
			v.add(key, seed.Source, "needs modelStore.expose.ip: the operator's machine uploads to MinIO through it",
				"give MinIO's S3 API a fixed MetalLB IP in modelStore.expose.ip")
		}
	}
}

// fixedIPs checks that every fixed LoadBalancer IP is an address inside a declared pool and used once.
func (v *validator) fixedIPs(s *Stack, pools []namedRange) {
	type fixedIP struct{ key, value string }
	requested := []fixedIP{{"ingress.loadBalancerIP", s.Ingress.LoadBalancerIP}}
	if s.ModelStore.Type == StoreMinIO {
		requested = append(requested, fixedIP{"modelStore.expose.ip", s.ModelStore.Expose.IP})
		if s.ModelStore.Console.Expose {
			requested = append(requested, fixedIP{"modelStore.console.ip", s.ModelStore.Console.IP})
		}
	}
	owner := map[netip.Addr]string{}
	for _, r := range requested {
		if r.value == "" {
			if r.key == "ingress.loadBalancerIP" {
				v.add(r.key, "", "is empty", "give the ingress a fixed IP from a MetalLB pool, e.g. 192.168.1.249")
			}
			continue
		}
		addr, err := netip.ParseAddr(r.value)
		if err != nil {
			v.add(r.key, r.value, "is not an IP address", "give one address from a MetalLB pool, e.g. 192.168.1.249")
			continue
		}
		if other, taken := owner[addr]; taken {
			v.add(r.key, r.value, "is also requested by "+other, "give each LoadBalancer Service its own IP")
		}
		owner[addr] = r.key
		if len(pools) > 0 && !inAnyPool(addr, pools) {
			v.add(r.key, r.value, "lies outside every MetalLB pool, so MetalLB never assigns it",
				"pick an address inside metallb.pools[*].addresses, or widen a pool")
		}
	}
}

func inAnyPool(addr netip.Addr, pools []namedRange) bool {
	for _, p := range pools {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
