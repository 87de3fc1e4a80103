"""jupyter_server extension: the OAuth callback route.

Lead's note to the owner: ``coder_jupyter/__init__.py`` returns
``[{"module": "coder_jupyter", "app": CoderJupyterApp}]`` from
``_jupyter_server_extension_points``; export ``CoderJupyterApp`` (an ``ExtensionApp``) from here.
"""
