// BerthTestSupport
