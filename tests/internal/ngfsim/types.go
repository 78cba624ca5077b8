package ngfsim

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/gatewayapi"
)

// Resources the simulation reads and writes besides the core ones.
var (
	GatewayClasses  = gwGVR("gatewayclasses")
	Gateways        = gwGVR("gateways")
	HTTPRoutes      = gwGVR("httproutes")
	ReferenceGrants = schema.GroupVersionResource{Group: gatewayapi.Group, Version: "v1beta1", Resource: "referencegrants"}
	NginxProxies    = schema.GroupVersionResource{Group: "gateway.nginx.org", Version: "v1alpha2", Resource: "nginxproxies"}
)

func gwGVR(plural string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: gatewayapi.Group, Version: "v1", Resource: plural}
}

// The fields of the Gateway API objects the rules read (sigs.k8s.io/gateway-api apis/v1, v1.5.1).
type (
	gatewayClass struct {
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			ControllerName string     `json:"controllerName"`
			ParametersRef  *objectRef `json:"parametersRef"`
		} `json:"spec"`
	}
	objectRef struct {
		Group     string  `json:"group"`
		Kind      string  `json:"kind"`
		Name      string  `json:"name"`
		Namespace *string `json:"namespace"`
	}
	gateway struct {
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			GatewayClassName string     `json:"gatewayClassName"`
			Listeners        []listener `json:"listeners"`
			Addresses        []struct {
				Type  *string `json:"type"`
				Value string  `json:"value"`
			} `json:"addresses"`
			Infrastructure *struct {
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"infrastructure"`
		} `json:"spec"`
	}
	listener struct {
		Name          string  `json:"name"`
		Hostname      *string `json:"hostname"`
		Port          int32   `json:"port"`
		Protocol      string  `json:"protocol"`
		AllowedRoutes *struct {
			Namespaces *struct {
				From     *string               `json:"from"`
				Selector *metav1.LabelSelector `json:"selector"`
			} `json:"namespaces"`
		} `json:"allowedRoutes"`
	}
	httpRoute struct {
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			ParentRefs []parentRef `json:"parentRefs"`
			Hostnames  []string    `json:"hostnames"`
			Rules      []rule      `json:"rules"`
		} `json:"spec"`
	}
	parentRef struct {
		Group       *string `json:"group,omitempty"`
		Kind        *string `json:"kind,omitempty"`
		Namespace   *string `json:"namespace,omitempty"`
		Name        string  `json:"name"`
		SectionName *string `json:"sectionName,omitempty"`
	}
	rule struct {
		Matches     []match      `json:"matches"`
		Filters     []filter     `json:"filters"`
		BackendRefs []backendRef `json:"backendRefs"`
	}
	match struct {
		Path    *pathMatch `json:"path"`
		Headers []struct {
			Type  *string `json:"type"`
			Name  string  `json:"name"`
			Value string  `json:"value"`
		} `json:"headers"`
		Method *string `json:"method"`
	}
	filter struct {
		Type                  string          `json:"type"`
		RequestHeaderModifier *headerModifier `json:"requestHeaderModifier"`
		URLRewrite            *struct {
			Path *pathModifier `json:"path"`
		} `json:"urlRewrite"`
	}
	pathMatch struct {
		Type  *string `json:"type"`
		Value *string `json:"value"`
	}
	pathModifier struct {
		Type               string  `json:"type"`
		ReplaceFullPath    *string `json:"replaceFullPath"`
		ReplacePrefixMatch *string `json:"replacePrefixMatch"`
	}
	headerModifier struct {
		Set    []headerValue `json:"set"`
		Add    []headerValue `json:"add"`
		Remove []string      `json:"remove"`
	}
	headerValue struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	backendRef struct {
		Group     *string `json:"group"`
		Kind      *string `json:"kind"`
		Name      string  `json:"name"`
		Namespace *string `json:"namespace"`
		Port      *int32  `json:"port"`
		Weight    *int32  `json:"weight"`
	}
	referenceGrant struct {
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			From []struct {
				Group     string `json:"group"`
				Kind      string `json:"kind"`
				Namespace string `json:"namespace"`
			} `json:"from"`
			To []struct {
				Group string  `json:"group"`
				Kind  string  `json:"kind"`
				Name  *string `json:"name"`
			} `json:"to"`
		} `json:"spec"`
	}
)

func decode(obj *unstructured.Unstructured, into any) error {
	b, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func deref[T any](p *T, fallback T) T {
	if p == nil {
		return fallback
	}
	return *p
}
