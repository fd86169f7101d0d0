package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/casual-dev/casual/accounts"
)

// The OpenAPI 3.1 document is built from the route table (paths,
// methods, parameters, security, which schemas go in and out) and the
// schemas below, which describe the views' JSON.

type schema = map[string]any

func str(desc string) schema { return schema{"type": "string", "description": desc} }
func enum(desc string, vals ...string) schema {
	return schema{"type": "string", "enum": vals, "description": desc}
}
func integer(desc string) schema { return schema{"type": "integer", "description": desc} }
func boolean(desc string) schema { return schema{"type": "boolean", "description": desc} }
func dateTime(desc string) schema {
	return schema{"type": "string", "format": "date-time", "description": desc}
}
func arrayOf(items schema) schema { return schema{"type": "array", "items": items} }
func ref(name string) schema      { return schema{"$ref": "#/components/schemas/" + name} }
func anyObject(desc string) schema {
	return schema{"type": "object", "additionalProperties": true, "description": desc}
}

// object is a JSON object schema; names in required must be properties.
func object(required []string, props schema) schema {
	s := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func roles() []string { return []string{"owner", "admin", "editor", "viewer"} }

func schemas() map[string]schema {
	visibility := enum("who beyond members sees the app", "private", "org", "public")
	role := enum("role", roles()...)
	tokens := schema{
		"access_token":       str("JWT for Authorization: Bearer and /sync?token=; 15 minutes"),
		"token_type":         enum("", "Bearer"),
		"expires_in":         integer("seconds until the access token expires"),
		"expires_at":         dateTime(""),
		"refresh_token":      str("exchange once at /v1/auth/refresh; 7 days"),
		"refresh_expires_at": dateTime(""),
		"session_id":         str(""),
	}
	auth := schema{"user": ref("User")}
	for k, v := range tokens {
		auth[k] = v
	}
	tokenNames := []string{"access_token", "token_type", "expires_in", "expires_at", "refresh_token", "refresh_expires_at", "session_id"}
	audit := object([]string{"id", "at", "action"}, schema{
		"id": str("sortable id; pass as before= to page"), "at": dateTime(""), "actor_id": str(""), "action": str("e.g. auth.login, app.published"),
		"org_id": str(""), "app_id": str(""), "target_id": str(""), "ip": str(""),
		"detail": schema{"type": "object", "additionalProperties": schema{"type": "string"}},
	})
	version := object([]string{"id", "app_id", "label", "heads"}, schema{
		"id": str("version id, or current"), "app_id": str(""), "label": str(""), "heads": arrayOf(str("change hash (hex)")),
		"author_id": str(""), "created_at": dateTime(""),
	})
	return map[string]schema{
		"Error": object([]string{"error"}, schema{"error": object([]string{"code", "message"}, schema{
			"code":    str("stable machine-readable code: invalid_request, invalid_json, unauthenticated, invalid_credentials, token_invalid, token_expired, token_revoked, token_reused, mfa_required, mfa_invalid, forbidden, not_found, conflict, last_owner, invalid_import, body_too_large, rate_limited, method_not_allowed, internal"),
			"message": str("human-readable explanation"),
		})}),
		"Status": object([]string{"status"}, schema{"status": str("")}),
		"User": object([]string{"id", "name", "created_at"}, schema{
			"id": str(""), "email": str("only on your own account"), "name": str(""),
			"email_verified": boolean("own account only"), "two_factor_enabled": boolean("own account only"),
			"created_at": dateTime(""), "updated_at": dateTime(""), "last_login_at": dateTime(""),
		}),
		"Tokens": object(tokenNames, tokens),
		"Auth":   object(append([]string{"user"}, tokenNames...), auth),
		"RegisterRequest": object([]string{"email", "password"}, schema{
			"email": str(""), "password": str(fmt.Sprintf("%d to %d characters", accounts.MinPasswordLen, accounts.MaxPasswordLen)), "name": str(""),
		}),
		"LoginRequest": object([]string{"email", "password"}, schema{
			"email": str(""), "password": str(""), "code": str("TOTP or backup code, when two-factor auth is on"),
		}),
		"RefreshRequest":     object([]string{"refresh_token"}, schema{"refresh_token": str("")}),
		"VerifyEmailRequest": object(nil, schema{"token": str("from the mailed link; omit to have a new link mailed")}),
		"ResetPasswordRequest": schema{"oneOf": []schema{
			object([]string{"email"}, schema{"email": str("mail a reset link to this address")}),
			object([]string{"token", "password"}, schema{"token": str("from the mailed link"), "password": str("the new password")}),
		}},
		"TOTPEnrollment": object([]string{"secret", "otpauth_url"}, schema{
			"secret": str("base32 secret"), "otpauth_url": str("otpauth://totp/... for a QR code"),
		}),
		"CodeRequest": object([]string{"code"}, schema{"code": str("6-digit TOTP code, or a backup code")}),
		"BackupCodes": object([]string{"backup_codes"}, schema{"backup_codes": arrayOf(str("one-time code, shown once"))}),
		"Session": object([]string{"id", "created_at", "last_used_at", "expires_at", "current"}, schema{
			"id": str(""), "created_at": dateTime(""), "last_used_at": dateTime(""), "expires_at": dateTime(""),
			"user_agent": str(""), "ip": str(""), "current": boolean("the session of this request"),
		}),
		"SessionList": object([]string{"sessions"}, schema{"sessions": arrayOf(ref("Session"))}),
		"UpdateMeRequest": object(nil, schema{
			"name": str(""), "email": str("needs current_password; must be verified again"),
			"password": str("needs current_password; signs out your other sessions"), "current_password": str(""),
		}),
		"PasswordRequest": object([]string{"password"}, schema{"password": str("your current password")}),
		"NameRequest":     object([]string{"name"}, schema{"name": str("")}),
		"Org": object([]string{"id", "name", "created_at"}, schema{
			"id": str(""), "name": str(""), "created_by": str(""), "created_at": dateTime(""), "updated_at": dateTime(""),
			"role": role,
		}),
		"OrgList": object([]string{"organizations"}, schema{"organizations": arrayOf(ref("Org"))}),
		"Member": object([]string{"user_id", "role"}, schema{
			"user_id": str(""), "name": str(""), "email": str(""), "role": role, "added_by": str(""), "added_at": dateTime(""),
		}),
		"MemberList":    object([]string{"members"}, schema{"members": arrayOf(ref("Member"))}),
		"MemberRequest": object([]string{"email", "role"}, schema{"email": str("the person's email; without an account, they are invited"), "role": role}),
		"Invitation": object([]string{"id", "email", "role", "created_at", "expires_at"}, schema{
			"id": str(""), "email": str("where the invitation was mailed"), "org_id": str("the organization (or app_id)"),
			"app_id": str("the app (or org_id)"), "role": role, "invited_by": str("user id"),
			"created_at": dateTime(""), "expires_at": dateTime("unused after this"),
		}),
		"InvitationList": object([]string{"invitations"}, schema{"invitations": arrayOf(ref("Invitation"))}),
		"App": object([]string{"id", "url", "name", "visibility", "created_at", "updated_at"}, schema{
			"id": str("the app's Automerge document id"), "url": str("automerge:<id>, for automerge-repo's find()"),
			"name": str(""), "description": str(""), "owner_id": str("owning user (or org_id)"), "org_id": str("owning organization"),
			"visibility": visibility, "template": str(""), "forked_from": str(""), "created_by": str(""),
			"created_at": dateTime(""), "updated_at": dateTime(""), "published_at": dateTime(""),
			"deleted_at": dateTime("in the trash since"), "role": role,
		}),
		"AppList": object([]string{"apps"}, schema{"apps": arrayOf(ref("App")), "next_cursor": str("pass as cursor= for the next page")}),
		"CreateAppRequest": object(nil, schema{
			"name": str("default: the template's name"), "description": str(""), "template": str("template id (see /v1/templates; default blank)"),
			"org_id": str("create in this organization (editors)"), "visibility": visibility,
		}),
		"UpdateAppRequest": object(nil, schema{"name": str(""), "description": str(""), "visibility": visibility}),
		"PublishRequest":   object(nil, schema{"visibility": enum("default public", "public", "org")}),
		"ForkRequest":      object(nil, schema{"name": str("default: <name> (fork)"), "org_id": str("")}),
		"Template":         object([]string{"id", "name"}, schema{"id": str(""), "name": str(""), "description": str("")}),
		"TemplateList":     object([]string{"templates"}, schema{"templates": arrayOf(ref("Template"))}),
		"Export": object([]string{"format", "version", "app", "document"}, schema{
			"format": enum("", accounts.ExportFormat), "version": integer("1"), "exported_at": dateTime(""),
			"app":      object([]string{"name"}, schema{"id": str(""), "name": str(""), "description": str(""), "template": str(""), "created_at": dateTime("")}),
			"versions": arrayOf(object([]string{"label", "heads"}, schema{"label": str(""), "heads": arrayOf(str("")), "created_at": dateTime("")})),
			"document": str("the Automerge document, saved, base64"),
		}),
		"Share": object([]string{"id", "app_id", "kind", "mode", "expires_at"}, schema{
			"id": str(""), "app_id": str(""), "kind": enum("", accounts.ShareLink, accounts.ShareEmbed),
			"mode": enum("", "read", "write", "run"), "created_by": str(""), "created_at": dateTime(""), "expires_at": dateTime(""),
			"revoked_at": dateTime(""), "token": str("only when created: use as bearer token or /sync?token="),
			"url": str("only when created"),
		}),
		"ShareList": object([]string{"shares"}, schema{"shares": arrayOf(ref("Share"))}),
		"ShareRequest": object([]string{"mode"}, schema{
			"kind": enum("default link", accounts.ShareLink, accounts.ShareEmbed), "mode": enum("embeds: read or run", "read", "write", "run"),
			"expires_in": integer("seconds (default 30 days, at most 1 year)"),
		}),
		"AuditEvent":     audit,
		"AuditList":      object([]string{"events"}, schema{"events": arrayOf(ref("AuditEvent")), "next_cursor": str("pass as before=")}),
		"Version":        version,
		"VersionList":    object([]string{"versions"}, schema{"versions": arrayOf(ref("Version"))}),
		"VersionRequest": object([]string{"label"}, schema{"label": str("")}),
		"Component":      anyObject("a materialized component: id, type, page, parent, index, props, layout, style, bindings, handlers"),
		"VersionState": object([]string{"version", "tree"}, schema{
			"version": ref("Version"), "meta": anyObject("the app's meta at that version"),
			"tree": anyObject("pages with their component trees, as canvas.Materialize reads them"),
		}),
		"Diff": object([]string{"from", "to", "added", "removed", "changed"}, schema{
			"from": ref("Version"), "to": ref("Version"),
			"added": arrayOf(ref("Component")), "removed": arrayOf(ref("Component")),
			"changed": arrayOf(object([]string{"id", "fields"}, schema{
				"id": str(""), "fields": arrayOf(str("type, page, parent, index, props, layout, style, bindings or handlers")),
				"before": ref("Component"), "after": ref("Component"),
			})),
			"pages_added": arrayOf(str("")), "pages_removed": arrayOf(str("")), "pages_changed": arrayOf(str("")),
		}),
		"Restore":        object([]string{"version", "heads"}, schema{"version": ref("Version"), "heads": arrayOf(str("heads after the restore"))}),
		"SessionRequest": object([]string{"app_id"}, schema{"app_id": str("")}),
		"CollabSession": object([]string{"id", "app_id", "url", "sync_url", "access", "participants"}, schema{
			"id": str("the app id: one live session per app"), "app_id": str(""), "url": str("automerge:<id>"),
			"sync_url": str("WebSocket URL; add ?token=<access or share token>"), "access": enum("", "read", "write"),
			"participants": arrayOf(object([]string{"peer_id", "last_seen"}, schema{
				"peer_id": str(""), "last_seen": dateTime(""), "state": schema{"description": "presence payload, decoded"},
				"data": str("presence payload (base64) when it is not decodable"),
			})),
		}),
		"OpenAPI": anyObject("this document"),
	}
}

var pathParam = regexp.MustCompile(`\{([A-Za-z]+)\}`)

func (a *API) openAPI() ([]byte, error) {
	paths := map[string]schema{}
	for _, rt := range a.routes {
		op := schema{
			"operationId": operationID(rt),
			"summary":     rt.summary,
			"tags":        []string{rt.tag},
			"responses":   responses(rt),
		}
		switch rt.auth {
		case authNone:
			op["security"] = []schema{}
		case authOptional:
			op["security"] = []schema{{"bearer": []string{}}, {}}
		default:
			op["security"] = []schema{{"bearer": []string{}}}
		}
		var params []schema
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, schema{"name": m[1], "in": "path", "required": true, "schema": schema{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, schema{"name": q.name, "in": "query", "required": false, "description": q.desc,
				"schema": schema{"type": q.typ}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.body != "" {
			op["requestBody"] = schema{"required": !rt.bodyOptional, "content": schema{
				"application/json": schema{"schema": ref(rt.body)}}}
		}
		if paths[rt.path] == nil {
			paths[rt.path] = schema{}
		}
		key := map[string]string{"GET": "get", "POST": "post", "PUT": "put", "DELETE": "delete", "PATCH": "patch"}[rt.method]
		if _, dup := paths[rt.path][key]; dup || key == "" {
			return nil, fmt.Errorf("api: route %s %s twice or with an unknown method", rt.method, rt.path)
		}
		paths[rt.path][key] = op
	}
	doc := schema{
		"openapi": "3.1.0",
		"info": schema{
			"title":   "Casual API",
			"version": "1",
			"description": "Accounts, organizations, apps, sharing and versions of Casual, the collaborative app builder. " +
				"Authenticate with Authorization: Bearer <access_token> (from register, login or refresh) or a share token. " +
				"App documents sync over the automerge-repo protocol at /sync?token=<token>; the same permissions apply there.",
		},
		"paths": paths,
		"components": schema{
			"schemas":         schemas(),
			"securitySchemes": schema{"bearer": schema{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func responses(rt route) schema {
	out := schema{
		"4XX": schema{"description": "refused: see error.code", "content": schema{"application/json": schema{"schema": ref("Error")}}},
		"5XX": schema{"description": "server error", "content": schema{"application/json": schema{"schema": ref("Error")}}},
	}
	ok := schema{"description": http.StatusText(rt.status)}
	if rt.resp != "" {
		ok["content"] = schema{"application/json": schema{"schema": ref(rt.resp)}}
	}
	out[strconv.Itoa(rt.status)] = ok
	switch rt.path {
	case "/v1/auth/verify-email":
		out["202"] = schema{"description": "a new verification link was mailed", "content": schema{"application/json": schema{"schema": ref("Status")}}}
	case "/v1/auth/reset-password":
		out["200"] = schema{"description": "password changed (with a token)", "content": schema{"application/json": schema{"schema": ref("Status")}}}
	case "/v1/organizations/{id}/members", "/v1/apps/{id}/members":
		if rt.method == "POST" {
			out["202"] = schema{"description": "no account has this email: an invitation was mailed; the membership is granted when they sign up and verify it",
				"content": schema{"application/json": schema{"schema": ref("Invitation")}}}
		}
	}
	desc := "too many requests for this user or address; see Retry-After"
	if rt.authLimited {
		desc = "too many attempts from this address (or for this account); see Retry-After"
	}
	out["429"] = schema{"description": desc, "content": schema{"application/json": schema{"schema": ref("Error")}},
		"headers": schema{"Retry-After": schema{"description": "seconds to wait", "schema": schema{"type": "integer"}}}}
	return out
}

// operationID is a stable identifier made of the method and path.
func operationID(rt route) string {
	id := []byte(map[string]string{"GET": "get", "POST": "post", "PUT": "put", "DELETE": "delete"}[rt.method])
	up := true
	for _, c := range []byte(rt.path[len("/v1"):]) {
		switch {
		case c == '/' || c == '-' || c == '{' || c == '}' || c == '.':
			up = true
		case up && c >= 'a' && c <= 'z':
			id = append(id, c-'a'+'A')
			up = false
		default:
			id = append(id, c)
			up = false
		}
	}
	return string(id)
}

func (a *API) serveSpec(w http.ResponseWriter, _ *http.Request, _ accounts.Principal) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(a.spec) // a failed write means the client went away
	return nil
}
