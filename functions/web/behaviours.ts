/**
 * What inline handlers did before the Content-Security-Policy forbade them, for any page that
 * renders this with <Script>: `data-confirm` forms ask first, `data-copy="id"` buttons copy that
 * field, `data-select` fields select their text on focus.
 */
export const FORM_BEHAVIOURS = `(function(){
  document.addEventListener('submit', function (e) {
    var question = e.target.getAttribute('data-confirm');
    if (question && !confirm(question)) e.preventDefault();
  });
  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('[data-copy]');
    if (!button) return;
    navigator.clipboard.writeText(document.getElementById(button.dataset.copy).value).then(function () { button.textContent = 'Copied'; });
  });
  document.addEventListener('focusin', function (e) {
    if (e.target.hasAttribute && e.target.hasAttribute('data-select')) e.target.select();
  });
})();`;
