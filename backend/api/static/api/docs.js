// Swagger UI over /api/schema/; "Try it out" sends the session cookie and echoes csrftoken as X-CSRFToken.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  window.ui = SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: function (request) {
      request.credentials = "same-origin";
      if (request.method !== "GET") { request.headers["X-CSRFToken"] = cookie("csrftoken"); }
      return request;
    },
  });
})();
