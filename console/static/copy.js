// The copy button of the key-created page. Without JavaScript the button stays hidden and the
// secret is still there to select and copy by hand.
"use strict";
(function () {
  var button = document.getElementById("copy");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = document.getElementById("copy-status");
  button.hidden = false;
  button.addEventListener("click", function () {
    field.select();
    var done = function () { status.textContent = "Copied to the clipboard."; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        status.textContent = "Select the secret and copy it.";
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
