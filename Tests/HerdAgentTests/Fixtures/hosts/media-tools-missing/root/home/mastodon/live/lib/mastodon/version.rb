# frozen_string_literal: true

module Mastodon
  module Version
    module_function

    def major
      4
    end

    def minor
      4
    end

    def patch
      0
    end

    def default_prerelease
      ''
    end
  end
end
