#!/bin/sh
# /mattermost/bin/mattermost in the Mattermost-layout stand-in image: the server is node + server.js.
exec /usr/local/bin/node /mattermost/server.js "$@"
