// The sign-in and sign-up form of the builder (accounts on), with the
// two-factor step when the server answers mfa_required.
import { ApiError, type Session, type User } from "./account.js"
import { h } from "./render.js"

/** showSignIn fills root with the form; resolves once someone is signed in. */
export function showSignIn(root: HTMLElement, session: Session, note = ""): Promise<User> {
  return new Promise(resolve => {
    let mode: "in" | "up" = "in"
    let needCode = false
    const wrap = h("div", "home auth")
    const box = h("form", "auth-box") as HTMLFormElement
    box.id = "auth-form"
    const title = h("h2")
    const msg = h("p", "auth-note", note)
    const err = h("p", "auth-error")
    err.id = "auth-error"
    const field = (name: string, label: string, type: string, auto: AutoFill) => {
      const inp = h("input", "b-input") as HTMLInputElement
      inp.name = name
      inp.type = type
      inp.autocomplete = auto
      const row = h("label", "auth-row")
      row.append(h("span", "", label), inp)
      return { row, inp }
    }
    const name = field("name", "Your name", "text", "name")
    const email = field("email", "Email", "email", "email")
    const password = field("password", "Password", "password", "current-password")
    const code = field("code", "Two-factor code (or a backup code)", "text", "one-time-code")
    code.inp.inputMode = "numeric"
    const submit = h("button", "b-btn b-primary") as HTMLButtonElement
    submit.id = "auth-submit"
    submit.type = "submit"
    const other = h("button", "b-btn b-link") as HTMLButtonElement
    other.id = "auth-switch"
    other.type = "button"
    other.onclick = () => {
      mode = mode === "in" ? "up" : "in"
      needCode = false
      draw()
    }
    const draw = () => {
      title.textContent = mode === "in" ? "Sign in to Casual" : "Create your Casual account"
      name.row.style.display = mode === "up" ? "" : "none"
      code.row.style.display = needCode ? "" : "none"
      password.inp.autocomplete = mode === "up" ? "new-password" : "current-password"
      submit.textContent = needCode ? "Verify" : mode === "in" ? "Sign in" : "Create account"
      other.textContent = mode === "in" ? "New here? Create an account" : "Have an account? Sign in"
      err.textContent = ""
      wrap.dataset.mode = needCode ? "mfa" : mode
    }
    box.onsubmit = async e => {
      e.preventDefault()
      err.textContent = ""
      submit.disabled = true
      try {
        const u = mode === "up"
          ? await session.register(email.inp.value.trim(), password.inp.value, name.inp.value.trim())
          : await session.login(email.inp.value.trim(), password.inp.value, needCode ? code.inp.value.trim() : "")
        resolve(u)
      } catch (x) {
        if (x instanceof ApiError && x.code === "mfa_required") {
          needCode = true
          draw()
          msg.textContent = "Enter the code from your authenticator app."
          code.inp.focus()
        } else err.textContent = x instanceof Error ? x.message : String(x)
      } finally {
        submit.disabled = false
      }
    }
    box.append(title, msg, name.row, email.row, password.row, code.row, err, submit, other)
    const head = h("header", "home-head")
    head.append(h("div", "b-logo", "Casual"), h("p", "home-tag", "Build apps together, live."))
    wrap.append(head, box)
    root.replaceChildren(wrap)
    draw()
    email.inp.focus()
  })
}
