package api

import (
	"net/http"

	"github.com/casual-dev/casual/accounts"
)

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

func (a *API) register(w http.ResponseWriter, r *http.Request, _ accounts.Principal) error {
	var in registerRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	u, tok, err := a.svc.Register(r.Context(), accounts.RegisterInput{Email: in.Email, Password: in.Password, Name: in.Name})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, authView{User: selfView(u), tokensView: tokensOf(tok, a.cfg.Clock())})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Code     string `json:"code"`
}

func (a *API) login(w http.ResponseWriter, r *http.Request, _ accounts.Principal) error {
	var in loginRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	// Per account too, so guessing one account's password from many
	// addresses is slowed as well.
	if err := a.authLim.take(r.Context(), "login:"+in.Email); err != nil {
		return err
	}
	u, tok, err := a.svc.Login(r.Context(), accounts.LoginInput{Email: in.Email, Password: in.Password, Code: in.Code})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, authView{User: selfView(u), tokensView: tokensOf(tok, a.cfg.Clock())})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if err := a.svc.Logout(r.Context(), p); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (a *API) refresh(w http.ResponseWriter, r *http.Request, _ accounts.Principal) error {
	var in refreshRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	tok, err := a.svc.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tokensOf(tok, a.cfg.Clock()))
}

type tokenRequest struct {
	Token string `json:"token"`
}

type statusView struct {
	Status string `json:"status"`
}

func (a *API) verifyEmail(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in tokenRequest
	if err := a.decode(w, r, &in, true); err != nil {
		return err
	}
	if in.Token == "" {
		if err := a.svc.SendVerification(r.Context(), p); err != nil {
			return err
		}
		return writeJSON(w, http.StatusAccepted, statusView{Status: "sent"})
	}
	u, err := a.svc.VerifyEmail(r.Context(), in.Token)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, selfView(u))
}

type resetRequest struct {
	Email    string `json:"email"`
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (a *API) resetPassword(w http.ResponseWriter, r *http.Request, _ accounts.Principal) error {
	var in resetRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	if in.Token != "" {
		if err := a.svc.ResetPassword(r.Context(), in.Token, in.Password); err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, statusView{Status: "password changed"})
	}
	if err := a.svc.RequestPasswordReset(r.Context(), in.Email); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, statusView{Status: "if an account has this email, a reset link was sent"})
}

type enrollmentView struct {
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
}

func (a *API) enableTOTP(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	e, err := a.svc.BeginTOTP(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, enrollmentView{Secret: e.Secret, OTPAuthURL: e.URL})
}

type codeRequest struct {
	Code string `json:"code"`
}

type backupCodesView struct {
	BackupCodes []string `json:"backup_codes"`
}

func (a *API) verifyTOTP(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in codeRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	codes, err := a.svc.ConfirmTOTP(r.Context(), p, in.Code)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, backupCodesView{BackupCodes: codes})
}

func (a *API) disableTOTP(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in codeRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	if err := a.svc.DisableTOTP(r.Context(), p, in.Code); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type sessionListView struct {
	Sessions []sessionView `json:"sessions"`
}

func (a *API) sessions(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	ss, err := a.svc.Sessions(r.Context(), p)
	if err != nil {
		return err
	}
	out := sessionListView{Sessions: make([]sessionView, 0, len(ss))}
	for _, s := range ss {
		out.Sessions = append(out.Sessions, sessionView{ID: s.ID, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt,
			ExpiresAt: s.ExpiresAt, UserAgent: s.UserAgent, IP: s.IP, Current: s.ID == p.SessionID})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) revokeSession(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if err := a.svc.RevokeSession(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
