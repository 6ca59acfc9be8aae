// Submits the SAML HTTP-POST binding form (kept out of the HTML for a strict CSP).
document.addEventListener("DOMContentLoaded", function () {
  var f = document.getElementById("saml-post");
  if (f) { f.submit(); }
});
