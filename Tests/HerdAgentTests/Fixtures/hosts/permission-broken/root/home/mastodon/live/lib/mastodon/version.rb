# frozen_string_literal: true

module Mastodon
  module Version
    module_function

    def major
      4
    end

    def minor
      3
    end

    def patch
      2
    end

    def default_prerelease
      ''
    end
  end
end
