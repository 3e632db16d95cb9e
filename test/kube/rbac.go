package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

// RoleFile is the RBAC file, relative to the repository root, that
// ServiceAccount applies: the rules the Helm chart renders.
const RoleFile = "deploy/rbac/role.yaml"

// tokenTTL is the lifetime of ServiceAccount tokens: longer than any test.
const tokenTTL = 24 * time.Hour

// Account is a ServiceAccount bound to the gateway's Role only.
type Account struct {
	Namespace, Name string
	// Role is the Role applied from the RBAC file, as created.
	Role *rbacv1.Role
	// Token is a bound token from the TokenRequest API, valid for 24 h.
	Token string
	// Config authenticates as the ServiceAccount (QPS 500). Copy it before
	// changing it; each call of ServiceAccount returns a fresh one.
	Config *rest.Config
	// Kubeconfig is a kubeconfig file for the ServiceAccount, for code that
	// takes --kubeconfig.
	Kubeconfig string
}

// Client returns a clientset acting as the ServiceAccount.
func (a *Account) Client() (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(rest.CopyConfig(a.Config))
}

// ServiceAccount makes the gateway's permissions real in namespace ns: it
// applies the Role of deploy/rbac/role.yaml there (creating or updating it),
// creates ServiceAccount name bound to that Role and nothing else, requests
// a token for it, and waits until the API server authorizes with the new
// binding (RBAC reads bindings through an informer, so there is a short lag).
func (c *Cluster) ServiceAccount(ctx context.Context, ns, name string) (*Account, error) {
	role, err := c.loadRole()
	if err != nil {
		return nil, err
	}
	role.Namespace = ns
	roles := c.client.RbacV1().Roles(ns)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := roles.Get(ctx, role.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cur, err = roles.Create(ctx, role, metav1.CreateOptions{})
			if err == nil {
				role = cur
			}
			return err
		}
		if err != nil {
			return err
		}
		cur.Rules = role.Rules
		cur, err = roles.Update(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			role = cur
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kube: apply role %s/%s: %w", ns, role.Name, err)
	}

	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if _, err := c.client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("kube: create serviceaccount %s/%s: %w", ns, name, err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-" + role.Name, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}
	if _, err := c.client.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("kube: create rolebinding %s/%s: %w", ns, rb.Name, err)
	}
	ttl := int64(tokenTTL / time.Second)
	tr, err := c.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl}},
		metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("kube: token for serviceaccount %s/%s: %w", ns, name, err)
	}

	cfg := rest.AnonymousClientConfig(c.config)
	cfg.BearerToken = tr.Status.Token
	a := &Account{Namespace: ns, Name: name, Role: role, Token: tr.Status.Token, Config: cfg}
	a.Kubeconfig = filepath.Join(c.dir, "sa-"+ns+"-"+name+".kubeconfig")
	if err := writeKubeconfig(a.Kubeconfig, cfg, "system:serviceaccount:"+ns+":"+name); err != nil {
		return nil, err
	}
	if err := waitAuthorized(ctx, cfg, ns, role); err != nil {
		return nil, fmt.Errorf("kube: serviceaccount %s/%s: %w", ns, name, err)
	}
	return a, nil
}

// waitAuthorized polls SelfSubjectAccessReview, as the account, until the
// first rule of role is allowed.
func waitAuthorized(ctx context.Context, cfg *rest.Config, ns string, role *rbacv1.Role) error {
	if len(role.Rules) == 0 || len(role.Rules[0].Verbs) == 0 || len(role.Rules[0].Resources) == 0 {
		return nil
	}
	r := role.Rules[0]
	attrs := &authorizationv1.ResourceAttributes{Namespace: ns, Verb: r.Verbs[0], Resource: r.Resources[0]}
	if len(r.APIGroups) > 0 {
		attrs.Group = r.APIGroups[0]
	}
	if len(r.ResourceNames) > 0 {
		attrs.Name = r.ResourceNames[0]
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
			&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: attrs}},
			metav1.CreateOptions{})
		if err == nil && res.Status.Allowed {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s %s.%s still denied: %s", attrs.Verb, attrs.Resource, attrs.Group, res.Status.Reason)
			}
			return fmt.Errorf("binding not effective after 10 s: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// loadRole reads the one Role of the RBAC file.
func (c *Cluster) loadRole() (*rbacv1.Role, error) {
	path := c.opts.RoleFile
	if path == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(root, RoleFile)
	}
	return ReadRole(path)
}

// ReadRole decodes the RBAC file at path, which must hold exactly one
// rbac.authorization.k8s.io/v1 Role.
func ReadRole(path string) (*rbacv1.Role, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("kube: decode %s: %w", path, err)
	}
	role, ok := obj.(*rbacv1.Role)
	if !ok {
		return nil, fmt.Errorf("kube: %s holds a %v, want an rbac.authorization.k8s.io/v1 Role", path, gvk)
	}
	if role.Name == "" {
		return nil, errors.New("kube: " + path + ": Role has no metadata.name")
	}
	return role, nil
}
